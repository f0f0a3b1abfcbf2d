# strata_target_options(<target>): the project's warnings, -Werror when STRATA_WERROR, AddressSanitizer and
# UndefinedBehaviorSanitizer when STRATA_SANITIZE, ThreadSanitizer when STRATA_TSAN. Applied to every target
# the project builds.
function(strata_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow)
  if(STRATA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(STRATA_SANITIZE)
    # GCC's -Wmaybe-uninitialized misfires on instrumented std::variant code; the sanitizers check the real thing.
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -Wno-maybe-uninitialized)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  elseif(STRATA_TSAN)
    target_compile_options(${target} PRIVATE -fsanitize=thread -fno-omit-frame-pointer -Wno-maybe-uninitialized
                                             -Wno-tsan)
    target_link_options(${target} PRIVATE -fsanitize=thread)
  endif()
endfunction()
