// The Python extension module bitsandbytes._C. Importing it loads the op
// library (libbnb_ops), which registers every bitsandbytes:: op with torch.
// It also reports what the build contains and exposes the format constants.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>

#include "build_info.h"
#include "common/format.h"
#include "cpu/kernels/cpu_features.h"

namespace py = pybind11;

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
          throw std::invalid_argument("simd level must be 'scalar', 'avx2' or 'avx512', got '" + name + "'");
        bnb::cpu::set_simd_level(l);
        return bnb::cpu::simd_level_name(bnb::cpu::simd_level());
      },
      "Cap the CPU kernels' SIMD path (for tests and benchmarks); returns the level now in use.");

  m.attr("NF4_CODE") = to_vector(bnb::kNF4Code);
  m.attr("FP4_CODE") = to_vector(bnb::kFP4Code);
  m.attr("INT4_CODE") = to_vector(bnb::kInt4Code);
  m.attr("AF4_CODE") = to_vector(bnb::kAF4Code);
  m.def("dynamic_map", &bnb::dynamic_map, py::arg("signed") = true, py::arg("max_exponent_bits") = 7,
        py::arg("total_bits") = 8);
}
