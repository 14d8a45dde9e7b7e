#include "simd.hpp"

#include <ATen/Context.h>
#include <c10/util/Exception.h>

#include <cstdlib>
#include <string>

namespace r4j::simd {

bool avx512_allowed() {
  static const bool allowed = [] {
    const char* v = std::getenv("RLHF4J_CPU_ISA");
    if (v == nullptr || *v == 0) return true;
    TORCH_CHECK(std::string(v) == "avx2", "RLHF4J_CPU_ISA: unknown value '", v, "' (avx2, or unset for this CPU's own)");
    TORCH_CHECK(has_avx2_fma(), "RLHF4J_CPU_ISA=avx2: this CPU has no AVX2/FMA");
    // ATen 1.13 asks the CPU itself, not a cap, whether to hand its products to
    // oneDNN; an AVX2 CPU's ATen never does (its bf16 GEMM is then its own loops).
    at::globalContext().setUserEnabledMkldnn(false);
    return false;
  }();
  return allowed;
}

void pin_elementwise_isa(const char* name) {
  if (!name) {
    pinned_isa() = -1;
    return;
  }
  const std::string n = name;
  if (n == "avx512" && R4J_CPU_SUPPORTS_AVX512("avx512f")) pinned_isa() = static_cast<int>(Isa::avx512);
  else if (n == "avx2" && has_avx2_fma()) pinned_isa() = static_cast<int>(Isa::avx2);
  else if (n == "plain") pinned_isa() = static_cast<int>(Isa::plain);
  else TORCH_CHECK(false, "pin_elementwise_isa: '", n, "' is not an instruction set this CPU runs (avx512, avx2, plain)");
}

}  // namespace r4j::simd
