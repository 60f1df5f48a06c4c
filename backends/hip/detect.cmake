# Sets XINHE_HIP_TOOLCHAIN_FOUND (and caches XINHE_HIPCC), so the top-level CMakeLists.txt can
# default XINHE_BACKEND_HIP to "ON when hipcc is found":
#
#   include(backends/hip/detect.cmake)
#   option(XINHE_BACKEND_HIP "Build the HIP backend plugin" ${XINHE_HIP_TOOLCHAIN_FOUND})
find_program(XINHE_HIPCC hipcc HINTS ENV ROCM_PATH /opt/rocm PATH_SUFFIXES bin
             DOC "hipcc used to build the HIP plugin's kernels")
if(XINHE_HIPCC)
  set(XINHE_HIP_TOOLCHAIN_FOUND ON)
else()
  set(XINHE_HIP_TOOLCHAIN_FOUND OFF)
endif()
