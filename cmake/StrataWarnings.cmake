# strata_target_options(<target>): the project's warnings, -Werror when STRATA_WERROR, AddressSanitizer and
# UndefinedBehaviorSanitizer when STRATA_SANITIZE, ThreadSanitizer when STRATA_TSAN, libFuzzer's coverage
# instrumentation with the sanitizers when STRATA_FUZZ. Applied to every target the project builds.
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
  if(STRATA_FUZZ)
    # Coverage for libFuzzer's guidance without its main(); the fuzz targets link -fsanitize=fuzzer.
    # Undefined behaviour aborts, so that libFuzzer keeps the input as a crash.
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link,address,undefined
                                             -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
