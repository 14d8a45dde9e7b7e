# Data parallelism uses c10d from libtorch: the TCPStore and ProcessGroupGloo
# are in every libtorch build (Gloo's headers come from Debian's libgloo-dev,
# or from the libtorch tree). CUDA variants add ProcessGroupNCCL when nccl.h is
# found (a PyTorch install ships it in nvidia/nccl/include; hint with
# -DRLHF4J_NCCL_INCLUDE_DIR=...); without it, CUDA tensors cannot be reduced.
find_path(RLHF4J_GLOO_INCLUDE_DIR gloo/algorithm.h HINTS ${TORCH_INCLUDE_DIRS})
if(NOT RLHF4J_GLOO_INCLUDE_DIR)
  message(FATAL_ERROR "rlhf4j: Gloo's headers (gloo/algorithm.h) were not found; "
                      "install libgloo-dev (apt-get install libgloo-dev)")
endif()

set(RLHF4J_NCCL OFF)
if(RLHF4J_CUDA)
  find_path(RLHF4J_NCCL_INCLUDE_DIR nccl.h HINTS ${TORCH_INCLUDE_DIRS} ${CUDAToolkit_INCLUDE_DIRS}
            PATH_SUFFIXES nvidia/nccl/include)
  if(RLHF4J_NCCL_INCLUDE_DIR)
    set(RLHF4J_NCCL ON)
    message(STATUS "rlhf4j: ProcessGroupNCCL (nccl.h in ${RLHF4J_NCCL_INCLUDE_DIR})")
  else()
    message(WARNING "rlhf4j: nccl.h not found: this CUDA build reduces only CPU tensors (Gloo); "
                    "set RLHF4J_NCCL_INCLUDE_DIR for ProcessGroupNCCL")
  endif()
endif()
