#include "simd.hpp"

#include <c10/util/Exception.h>

#include <string>

namespace r4j::simd {

void pin_elementwise_isa(const char* name) {
  if (!name) {
    pinned_isa() = -1;
    return;
  }
  const std::string n = name;
  if (n == "avx512" && __builtin_cpu_supports("avx512f")) pinned_isa() = static_cast<int>(Isa::avx512);
  else if (n == "avx2" && has_avx2_fma()) pinned_isa() = static_cast<int>(Isa::avx2);
  else if (n == "plain") pinned_isa() = static_cast<int>(Isa::plain);
  else TORCH_CHECK(false, "pin_elementwise_isa: '", n, "' is not an instruction set this CPU runs (avx512, avx2, plain)");
}

}  // namespace r4j::simd
