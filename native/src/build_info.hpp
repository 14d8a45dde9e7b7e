// What this build is and what it runs on: version, libtorch, the BLAS that
// actually serves sgemm_, CUDA architectures compiled in, devices seen.
#pragma once

#include <string>

namespace r4j {

std::string build_info_json();

// The loaded library that provides sgemm_ (resolved through symlinks, e.g.
// the Debian alternatives), and a short name for it.
struct BlasInfo {
  std::string name;  // "openblas", "mkl", "blis", "reference", or "unknown"
  std::string path;
  std::string detail;  // e.g. openblas_get_config()
};
BlasInfo detect_blas();

}  // namespace r4j
