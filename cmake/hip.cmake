# The ROCm backend: the torch-free kernels compiled by hipcc (through
# csrc/common/compat.h) into bnb_kernels_hip, linked with the HIP runtime.
# In:  BNB_HIP (AUTO, ON, OFF, KERNELS), BNB_HIP_ARCHS, BNB_GPU_KERNELS, BNB_TORCH_HIP_VERSION
# Out: BNB_WITH_HIP (the ROCm backend of bnb_ops), BNB_HIP_VERSION, BNB_HIP_INCLUDE_DIR,
#      target bnb_kernels_hip (STATIC for bnb_ops; SHARED with BNB_HIP=KERNELS, the CI
#      link check without a ROCm torch)

set(BNB_WITH_HIP OFF)
if(BNB_HIP STREQUAL "OFF")
  return()
endif()
if(NOT BNB_HIP MATCHES "^(AUTO|ON|KERNELS)$")
  message(FATAL_ERROR "bitsandbytes: BNB_HIP must be AUTO, ON, OFF or KERNELS, got '${BNB_HIP}'")
endif()

macro(_bnb_no_hip why)
  if(NOT BNB_HIP STREQUAL "AUTO")
    message(FATAL_ERROR "bitsandbytes: BNB_HIP=${BNB_HIP}, but ${why}")
  endif()
  message(WARNING "bitsandbytes: ${why}. Building the CPU backend only (-DBNB_HIP=ON makes this an error).")
  return()
endmacro()

if(NOT BNB_HIP STREQUAL "KERNELS" AND (NOT BNB_TORCH OR "${BNB_TORCH_HIP_VERSION}" STREQUAL ""))
  if(BNB_HIP STREQUAL "ON")
    message(FATAL_ERROR "bitsandbytes: BNB_HIP=ON, but the installed torch ${BNB_TORCH_VERSION} is not a ROCm build "
                        "(BNB_HIP=KERNELS builds the torch-free kernels alone)")
  endif()
  return()
endif()

# hipcc: ROCM_PATH's, else the one on PATH.
find_program(BNB_HIPCC hipcc HINTS "$ENV{ROCM_PATH}/bin" /opt/rocm/bin)
if(NOT BNB_HIPCC)
  _bnb_no_hip("torch ${BNB_TORCH_VERSION} is a ROCm build (HIP ${BNB_TORCH_HIP_VERSION}) but hipcc was not found (set ROCM_PATH or put ROCm's bin on PATH)")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env HIP_PLATFORM=amd ${BNB_HIPCC} --version
                OUTPUT_VARIABLE _ver ERROR_VARIABLE _ver)
if(NOT _ver MATCHES "HIP version: ([0-9]+)\\.([0-9]+)")
  _bnb_no_hip("${BNB_HIPCC} --version did not report a HIP version")
endif()
set(BNB_HIP_VERSION "${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
set(_hip_major "${CMAKE_MATCH_1}")
if(NOT "${BNB_TORCH_HIP_VERSION}" STREQUAL "")
  string(REGEX MATCH "^[0-9]+" _torch_major "${BNB_TORCH_HIP_VERSION}")
  if(NOT _hip_major STREQUAL _torch_major)
    _bnb_no_hip("${BNB_HIPCC} is HIP ${BNB_HIP_VERSION} but torch ${BNB_TORCH_VERSION} is built with HIP ${BNB_TORCH_HIP_VERSION}; install ROCm ${_torch_major}.x and set ROCM_PATH to it")
  endif()
endif()

# The HIP runtime: the one a ROCm torch wheel ships in torch/lib first, then ROCm's.
get_filename_component(_hip_root "${BNB_HIPCC}/../.." ABSOLUTE)
find_library(BNB_AMDHIP64 amdhip64 HINTS "${BNB_TORCH_DIR}/lib" "${_hip_root}/lib" REQUIRED)
find_path(BNB_HIP_INCLUDE_DIR hip/hip_runtime.h HINTS "${_hip_root}/include" REQUIRED)

set(_arch_flags "")
foreach(_a IN LISTS BNB_HIP_ARCHS)
  list(APPEND _arch_flags --offload-arch=${_a})
endforeach()
file(GLOB _gpu_headers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/csrc/cuda/kernels/*.cuh
     ${CMAKE_CURRENT_SOURCE_DIR}/csrc/cuda/kernels/*.h ${CMAKE_CURRENT_SOURCE_DIR}/csrc/common/*.h)
set(_objs "")
foreach(_src IN LISTS BNB_GPU_KERNELS)
  get_filename_component(_name ${_src} NAME_WE)
  set(_obj ${CMAKE_CURRENT_BINARY_DIR}/hip/${_name}.o)
  add_custom_command(
    OUTPUT ${_obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/hip
    COMMAND ${CMAKE_COMMAND} -E env HIP_PLATFORM=amd ${BNB_HIPCC} -std=c++17 -O3 -fPIC ${_arch_flags}
            -ffp-contract=off -I${CMAKE_CURRENT_SOURCE_DIR}/csrc -x hip -c ${CMAKE_CURRENT_SOURCE_DIR}/${_src} -o ${_obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${_src} ${_gpu_headers}
    COMMENT "hipcc ${_src} for ${BNB_HIP_ARCHS}")
  list(APPEND _objs ${_obj})
endforeach()

if(BNB_HIP STREQUAL "KERNELS")
  # Every kernel and its host launcher, linked with nothing left undefined.
  add_library(bnb_kernels_hip SHARED ${_objs})
  target_link_options(bnb_kernels_hip PRIVATE -Wl,--no-undefined)
else()
  add_library(bnb_kernels_hip STATIC ${_objs})
  set(BNB_WITH_HIP ON)
endif()
set_target_properties(bnb_kernels_hip PROPERTIES LINKER_LANGUAGE CXX)
target_include_directories(bnb_kernels_hip INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/csrc)
target_link_libraries(bnb_kernels_hip PUBLIC "${BNB_AMDHIP64}")
message(STATUS "bitsandbytes: HIP ${BNB_HIP_VERSION} (${BNB_HIPCC}), architectures ${BNB_HIP_ARCHS}, runtime ${BNB_AMDHIP64}")
