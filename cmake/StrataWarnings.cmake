# strata_target_options(<target>): the project's warnings, -Werror when STRATA_WERROR, sanitizers when
# STRATA_SANITIZE. Applied to every target the project builds.
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
  endif()
endfunction()
