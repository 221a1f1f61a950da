// The Python extension module bitsandbytes._C. Importing it loads the op
// library (libbnb_ops), which registers every bitsandbytes:: op with torch.
// It also reports what the build contains and exposes the format constants.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>

#include "build_info.h"
#include "common/format.h"
#include "cpu/kernels/cpu_features.h"
#include "cpu/kernels/gemm_4bit.h"

namespace py = pybind11;

#if defined(BNB_WITH_CUDA) || defined(BNB_WITH_HIP)
#define BNB_WITH_GPU 1
#if defined(BNB_WITH_HIP)
#include <hip/hip_runtime_api.h>
#else
#include <cuda_runtime.h>
#endif

namespace {

// The few runtime calls of managed memory, under one name for CUDA and HIP.
namespace rt {
#if defined(BNB_WITH_HIP)
using Error = hipError_t;
constexpr Error kSuccess = hipSuccess;
inline const char* error_string(Error e) { return hipGetErrorString(e); }
inline Error get_device(int* d) { return hipGetDevice(d); }
inline Error set_device(int d) { return hipSetDevice(d); }
inline Error malloc_managed(void** p, size_t n) { return hipMallocManaged(p, n, hipMemAttachHost); }
inline Error free(void* p) { return hipFree(p); }
inline bool concurrent_managed_access(int dev) {
  int v = 0;
  (void)hipDeviceGetAttribute(&v, hipDeviceAttributeConcurrentManagedAccess, dev);
  return v != 0;
}
inline Error prefetch(void* p, size_t n, int device) {  // device -1: the host
  return hipMemPrefetchAsync(p, n, device < 0 ? hipCpuDeviceId : device, nullptr);
}
#else
using Error = cudaError_t;
constexpr Error kSuccess = cudaSuccess;
inline const char* error_string(Error e) { return cudaGetErrorString(e); }
inline Error get_device(int* d) { return cudaGetDevice(d); }
inline Error set_device(int d) { return cudaSetDevice(d); }
inline Error malloc_managed(void** p, size_t n) { return cudaMallocManaged(p, n, cudaMemAttachHost); }
inline Error free(void* p) { return cudaFree(p); }
inline bool concurrent_managed_access(int dev) {
  int v = 0;
  (void)cudaDeviceGetAttribute(&v, cudaDevAttrConcurrentManagedAccess, dev);
  return v != 0;
}
inline Error prefetch(void* p, size_t n, int device) {  // device -1: the host
#if CUDART_VERSION >= 13000
  cudaMemLocation loc{};
  loc.type = device < 0 ? cudaMemLocationTypeHost : cudaMemLocationTypeDevice;
  loc.id = device < 0 ? 0 : device;
  return cudaMemPrefetchAsync(p, n, loc, 0, nullptr);
#else
  return cudaMemPrefetchAsync(p, n, device < 0 ? cudaCpuDeviceId : device, nullptr);
#endif
}
#endif
}  // namespace rt

// Unified (managed) memory for paged optimizer states: a Python buffer, so
// torch.frombuffer gives the CPU tensor over it; freed with the last reference.
struct ManagedBuffer {
  void* ptr = nullptr;
  size_t bytes = 0;
  int device = 0;
  ManagedBuffer(size_t nbytes, int dev) : bytes(nbytes), device(dev) {
    int old = 0;
    (void)rt::get_device(&old);
    (void)rt::set_device(dev);
    const rt::Error e = rt::malloc_managed(&ptr, nbytes);
    (void)rt::set_device(old);
    if (e != rt::kSuccess) {
      ptr = nullptr;
      throw std::runtime_error(std::string("bitsandbytes.get_paged: managed allocation of ") + std::to_string(nbytes) +
                               " bytes failed: " + rt::error_string(e));
    }
  }
  ~ManagedBuffer() {
    if (ptr) (void)rt::free(ptr);
  }
  ManagedBuffer(const ManagedBuffer&) = delete;
  ManagedBuffer& operator=(const ManagedBuffer&) = delete;
};

// Migrates [ptr, ptr + bytes) to `device` (-1: the host) on the legacy default
// stream, when the device supports concurrent managed access. Returns whether it did.
bool prefetch_managed(uintptr_t ptr, size_t bytes, int device) {
  int dev = device;
  if (dev < 0) (void)rt::get_device(&dev);
  if (!rt::concurrent_managed_access(dev)) return false;
  const rt::Error e = rt::prefetch(reinterpret_cast<void*>(ptr), bytes, device);
  if (e != rt::kSuccess) throw std::runtime_error(std::string("bitsandbytes.prefetch_tensor: ") + rt::error_string(e));
  return true;
}

}  // namespace
#endif

namespace {

std::vector<float> to_vector(const std::array<float, 16>& a) { return std::vector<float>(a.begin(), a.end()); }

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "bitsandbytes native library: build information and format constants";

  m.def("build_info", [] {
    const bnb::BuildInfo& b = bnb::build_info();
    py::dict d;
    d["cuda"] = b.cuda;
    d["hip"] = b.hip;
    d["gpu_archs"] = b.gpu_archs;
    d["gpu_toolkit"] = b.gpu_toolkit;
    d["torch_version"] = b.torch_version;
    d["compiler"] = b.compiler;
    return d;
  });

  m.def("cpu_features", [] {
    const bnb::cpu::CpuFeatures& f = bnb::cpu::cpu_features();
    py::dict d;
    d["avx2"] = f.avx2;
    d["avx512"] = f.avx512;
    d["avx512_bf16"] = f.avx512_bf16;
    d["avx512_vnni"] = f.avx512_vnni;
    d["avx_vnni"] = f.avx_vnni;
    d["avx512_vbmi"] = f.avx512_vbmi;
    d["amx"] = f.amx;
    d["neon"] = f.neon;
    return d;
  });
  m.def("detected_simd_level", [] { return bnb::cpu::simd_level_name(bnb::cpu::detected_simd_level()); });
  m.def("simd_level", [] { return bnb::cpu::simd_level_name(bnb::cpu::simd_level()); });
  m.def(
      "set_simd_level",
      [](const std::string& name) {
        bnb::cpu::SimdLevel l;
        if (!bnb::cpu::parse_simd_level(name, &l))
          throw std::invalid_argument("simd level must be 'scalar', 'avx2', 'avx512' or 'amx', got '" + name + "'");
        bnb::cpu::set_simd_level(l);
        return bnb::cpu::simd_level_name(bnb::cpu::simd_level());
      },
      "Cap the CPU kernels' SIMD path (for tests and benchmarks); returns the level now in use.");
  m.def(
      "gemm_4bit_path",
      [](int64_t M, int64_t K, int64_t blocksize, const std::string& dtype) {
        bnb::Gemm4bitArgs a{};
        a.dtype = dtype == "bfloat16" ? bnb::DType::kBF16 : dtype == "float16" ? bnb::DType::kF16 : bnb::DType::kF32;
        a.M = M, a.K = K, a.blocksize = blocksize;
        return std::string(bnb::cpu::gemm_4bit_path(a).name);
      },
      py::arg("M"), py::arg("K"), py::arg("blocksize"), py::arg("dtype"),
      "The CPU kernel path gemm_4bit / gemv_4bit take for M batch rows of K features ('float32', 'float16' or "
      "'bfloat16' A) at the current SIMD level (for benchmarks).");

  m.attr("NF4_CODE") = to_vector(bnb::kNF4Code);
  m.attr("FP4_CODE") = to_vector(bnb::kFP4Code);
  m.attr("INT4_CODE") = to_vector(bnb::kInt4Code);
  m.attr("AF4_CODE") = to_vector(bnb::kAF4Code);
#if defined(BNB_WITH_GPU)
  // paged optimizer states (python/bitsandbytes/paging.py)
  py::class_<ManagedBuffer>(m, "ManagedBuffer", py::buffer_protocol())
      .def(py::init<size_t, int>(), py::arg("nbytes"), py::arg("device"))
      .def_property_readonly("ptr", [](const ManagedBuffer& b) { return reinterpret_cast<uintptr_t>(b.ptr); })
      .def_readonly("nbytes", &ManagedBuffer::bytes)
      .def_readonly("device", &ManagedBuffer::device)
      .def_buffer([](ManagedBuffer& b) {
        return py::buffer_info(b.ptr, 1, py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(b.bytes)}, {1});
      });
  m.def("prefetch", &prefetch_managed, py::arg("ptr"), py::arg("nbytes"), py::arg("device"),
        "Migrate managed memory to a device (-1: the host); False if the device cannot.");
#endif
  m.def("dynamic_map", &bnb::dynamic_map, py::arg("signed") = true, py::arg("max_exponent_bits") = 7,
        py::arg("total_bits") = 8);
}
