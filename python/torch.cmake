# xinhe.torch's native library (libxinhe_torch.so), loaded by torch.ops.load_library. It is a
# plain shared library against the torch wheel in the build environment: no find_package(Torch)
# (whose CUDA probing the CPU use does not need) and no Python binding (Python reaches it through
# torch.ops.xinhe_torch.*). The C++ ABI flag and the version come from that torch, and
# xinhe/torch/__init__.py refuses a different torch at import.
execute_process(
  COMMAND "${Python_EXECUTABLE}" -c
    "import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI)); print(torch.__version__.split('+')[0])"
  OUTPUT_VARIABLE xinhe_torch_probe OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE xinhe_torch_found)
if(NOT xinhe_torch_found EQUAL 0)
  message(FATAL_ERROR "XINHE_PYTHON_TORCH needs torch in the build environment; pass "
                      "-C cmake.define.XINHE_PYTHON_TORCH=OFF to build without xinhe.torch")
endif()
string(REPLACE "\n" ";" xinhe_torch_probe "${xinhe_torch_probe}")
list(GET xinhe_torch_probe 0 XINHE_TORCH_DIR)
list(GET xinhe_torch_probe 1 XINHE_TORCH_CXX11_ABI)
list(GET xinhe_torch_probe 2 XINHE_TORCH_VERSION)
message(STATUS "xinhe.torch: building against torch ${XINHE_TORCH_VERSION} at ${XINHE_TORCH_DIR}")

add_library(xinhe_torch SHARED src/torch/runtime.cpp src/torch/ops.cpp)
target_include_directories(xinhe_torch SYSTEM PRIVATE
  ${XINHE_TORCH_DIR}/include ${XINHE_TORCH_DIR}/include/torch/csrc/api/include)
target_compile_definitions(xinhe_torch PRIVATE _GLIBCXX_USE_CXX11_ABI=${XINHE_TORCH_CXX11_ABI})
target_compile_options(xinhe_torch PRIVATE -Wall -Wextra)
target_link_libraries(xinhe_torch PRIVATE xinhe::xinhe
  ${XINHE_TORCH_DIR}/lib/libc10.so ${XINHE_TORCH_DIR}/lib/libtorch_cpu.so)
# torch's libraries are already loaded when xinhe.torch loads this (import torch comes first).
set_target_properties(xinhe_torch PROPERTIES INSTALL_RPATH "$ORIGIN/../lib" CXX_STANDARD 20)
install(TARGETS xinhe_torch LIBRARY DESTINATION torch)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/torch_version.txt "${XINHE_TORCH_VERSION}\n")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/torch_version.txt DESTINATION torch)
