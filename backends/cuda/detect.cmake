# Sets XINHE_CUDA_TOOLCHAIN_FOUND (and caches XINHE_NVCC) without enabling the CUDA language,
# so the top-level CMakeLists.txt can default XINHE_BACKEND_CUDA to "ON when nvcc is found":
#
#   include(backends/cuda/detect.cmake)
#   option(XINHE_BACKEND_CUDA "Build the CUDA backend plugin" ${XINHE_CUDA_TOOLCHAIN_FOUND})
#
# find_program rather than check_language(CUDA): the plugin only needs nvcc to produce fat
# binaries (the host code is plain C++), and check_language would configure and build a test
# CUDA project at every fresh configure.
find_program(XINHE_NVCC nvcc HINTS ENV CUDA_PATH ENV CUDA_HOME /usr/local/cuda PATH_SUFFIXES bin
             DOC "nvcc used to build the CUDA plugin's kernels")
if(XINHE_NVCC)
  set(XINHE_CUDA_TOOLCHAIN_FOUND ON)
else()
  set(XINHE_CUDA_TOOLCHAIN_FOUND OFF)
endif()
