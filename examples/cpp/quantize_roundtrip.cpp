// Quantize a tensor to NF4 and back through torch's dispatcher, with the op
// library loaded at run time: what a C++ (LibTorch) application does.
//   quantize_roundtrip /path/to/libbnb_ops.so
#include <dlfcn.h>
#include <torch/torch.h>

#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " /path/to/libbnb_ops.so\n";
    return 2;
  }
  // Loading the library runs its TORCH_LIBRARY registrations.
  if (dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    std::cerr << "could not load " << argv[1] << ": " << dlerror() << "\n";
    return 1;
  }
  auto quantize =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("bitsandbytes::quantize_4bit", "")
          .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, int64_t, std::string_view, at::ScalarType)>();
  auto dequantize = c10::Dispatcher::singleton()
                        .findSchemaOrThrow("bitsandbytes::dequantize_4bit", "")
                        .typed<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, std::string_view,
                                          c10::IntArrayRef, at::ScalarType)>();

  torch::manual_seed(0);
  const at::Tensor x = torch::randn({512, 256}, torch::kBFloat16);
  const auto [packed, absmax] = quantize.call(x, 64, "nf4", at::kByte);
  const at::Tensor y = dequantize.call(packed, absmax, 64, "nf4", x.sizes(), at::kBFloat16);

  const double err = (y.to(at::kFloat) - x.to(at::kFloat)).abs().mean().item<double>();
  const double bytes_in = static_cast<double>(x.numel() * x.element_size());
  const double bytes_q = static_cast<double>(packed.numel() * packed.element_size() + absmax.numel() * 4);
  std::printf("quantized %lld bf16 values to %lld bytes (%.2fx smaller); mean abs error %.4f\n",
              static_cast<long long>(x.numel()), static_cast<long long>(bytes_q), bytes_in / bytes_q, err);
  // NF4 of N(0,1) data: error about 0.07-0.08; anything far off is a bug
  if (!(err > 0.01 && err < 0.12) || y.sizes() != x.sizes()) {
    std::fprintf(stderr, "unexpected result\n");
    return 1;
  }
  // bad input reaches the caller as an exception naming the problem
  try {
    quantize.call(x, 48, "nf4", at::kByte);
    std::fprintf(stderr, "blocksize 48 was accepted\n");
    return 1;
  } catch (const c10::Error& e) {
    std::printf("rejected blocksize 48: %s\n", e.what_without_backtrace());
  }
  return 0;
}
