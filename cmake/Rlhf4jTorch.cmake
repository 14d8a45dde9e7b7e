# Finds libtorch and exposes its version to the sources.
#   CPU variant:  Debian's libtorch-dev (1.13) is found with no hints.
#   CUDA variant: a libtorch >= 2.1 (e.g. a PyTorch install's
#                 torch.utils.cmake_prefix_path) through Torch_DIR or
#                 CMAKE_PREFIX_PATH.
find_package(Torch REQUIRED)

if(NOT DEFINED Torch_VERSION OR Torch_VERSION STREQUAL "")
  set(Torch_VERSION "${TORCH_VERSION}")
endif()
message(STATUS "rlhf4j: libtorch ${Torch_VERSION} (${TORCH_INSTALL_PREFIX})")

if(RLHF4J_CUDA AND Torch_VERSION VERSION_LESS "2.1")
  message(FATAL_ERROR "rlhf4j: the CUDA variant needs libtorch >= 2.1, found ${Torch_VERSION}. "
                      "Point Torch_DIR at a newer libtorch, e.g. "
                      "-DTorch_DIR=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')/Torch")
endif()

# at::parallel_for is a header template that opens an OpenMP parallel region in
# the caller's code: compiled without OpenMP, our own kernels (decoding
# attention, sampling, AdamW) would run on one thread whatever the thread count.
# Both Debian's libtorch and PyTorch's builds use OpenMP (GNU libgomp).
find_package(OpenMP)
if(NOT OpenMP_CXX_FOUND)
  message(WARNING "rlhf4j: no OpenMP for C++; the library's own CPU kernels will run on one thread")
endif()
