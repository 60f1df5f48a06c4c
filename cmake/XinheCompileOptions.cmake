# Warnings and sanitizers shared by every xinhe target.
set(XINHE_SANITIZE "" CACHE STRING "Sanitizers: '', 'address,undefined' or 'thread'")

add_library(xinhe_compile_options INTERFACE)
target_compile_options(xinhe_compile_options INTERFACE
  $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra>)
if(XINHE_WERROR)
  target_compile_options(xinhe_compile_options INTERFACE $<$<COMPILE_LANGUAGE:C,CXX>:-Werror>)
endif()
if(XINHE_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=${XINHE_SANITIZE}>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:C,CXX>:-fno-sanitize-recover=all>)
  add_link_options(-fsanitize=${XINHE_SANITIZE})
endif()
if(XINHE_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "XINHE_BUILD_FUZZERS needs clang (use the fuzz preset)")
  endif()
  # Coverage feedback from the library code too; the targets add -fsanitize=fuzzer.
  add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link>)
endif()
