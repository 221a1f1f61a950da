# The installed torch as imported targets, without torch's own CMake package:
# that one needs a full CUDA toolkit whenever torch is a CUDA build (a full
# ROCm install for a ROCm build) and fails without it, adds torch's default GPU
# architectures to every CUDA target, and links nvrtc. An extension needs the
# headers, the libraries and the C++ ABI flag, as torch.utils.cpp_extension
# uses them.
#
# Defines the targets bnb::torch (CPU), bnb::torch_cuda / bnb::torch_hip (the
# GPU parts, where torch has them) and sets
#   BNB_TORCH_VERSION, BNB_TORCH_DIR (site-packages/torch)
#   BNB_TORCH_CUDA_VERSION  torch.version.cuda, "" if none
#   BNB_TORCH_HIP_VERSION   torch.version.hip, "" if none
#   BNB_TORCH_CUDART_DIR    the folder of the CUDA runtime pip installed beside torch,
#                           relative to site-packages (nvidia/cu13/lib), "" if none

set(_probe [=[
import glob, os, torch
d = os.path.dirname(torch.__file__)
site = os.path.dirname(d)
rt = sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib", "libcudart.so*")))
print(";".join([torch.__version__.split("+")[0], d, torch.version.cuda or "", getattr(torch.version, "hip", None) or "",
                str(int(torch._C._GLIBCXX_USE_CXX11_ABI)), os.path.relpath(os.path.dirname(rt[0]), site) if rt else ""]))
]=])
execute_process(COMMAND ${Python_EXECUTABLE} -c "${_probe}" OUTPUT_VARIABLE _out ERROR_VARIABLE _err
                OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "bitsandbytes: could not import torch with ${Python_EXECUTABLE}:\n${_err}\n"
                      "Install torch first, then build with pip install --no-build-isolation .")
endif()
list(GET _out 0 BNB_TORCH_VERSION)
list(GET _out 1 BNB_TORCH_DIR)
list(GET _out 2 BNB_TORCH_CUDA_VERSION)
list(GET _out 3 BNB_TORCH_HIP_VERSION)
list(GET _out 4 _abi)
list(GET _out 5 BNB_TORCH_CUDART_DIR)

function(_bnb_torch_library target)
  add_library(${target} INTERFACE IMPORTED GLOBAL)
  foreach(lib IN LISTS ARGN)
    find_library(BNB_TORCH_LIB_${lib} ${lib} PATHS "${BNB_TORCH_DIR}/lib" NO_DEFAULT_PATH REQUIRED)
    target_link_libraries(${target} INTERFACE "${BNB_TORCH_LIB_${lib}}")
  endforeach()
endfunction()

_bnb_torch_library(bnb::torch torch torch_cpu c10)
target_include_directories(bnb::torch INTERFACE "${BNB_TORCH_DIR}/include"
                                                "${BNB_TORCH_DIR}/include/torch/csrc/api/include")
target_compile_definitions(bnb::torch INTERFACE _GLIBCXX_USE_CXX11_ABI=${_abi})
if(NOT "${BNB_TORCH_CUDA_VERSION}" STREQUAL "")
  _bnb_torch_library(bnb::torch_cuda torch_cuda c10_cuda)
endif()
if(NOT "${BNB_TORCH_HIP_VERSION}" STREQUAL "")
  _bnb_torch_library(bnb::torch_hip torch_hip c10_hip)
  target_compile_definitions(bnb::torch_hip INTERFACE USE_ROCM __HIP_PLATFORM_AMD__)
endif()
if(NOT "${BNB_TORCH_CUDA_VERSION}" STREQUAL "")
  set(_kind "CUDA ${BNB_TORCH_CUDA_VERSION}")
elseif(NOT "${BNB_TORCH_HIP_VERSION}" STREQUAL "")
  set(_kind "ROCm, HIP ${BNB_TORCH_HIP_VERSION}")
else()
  set(_kind "CPU")
endif()
message(STATUS "bitsandbytes: torch ${BNB_TORCH_VERSION} (${_kind}) at ${BNB_TORCH_DIR}")
