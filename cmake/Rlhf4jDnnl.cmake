# oneDNN for the CPU variant's inference matmuls (optional). Debian's
# dnnl-config.cmake demands OpenCL, so the header and library are found directly.
# Defines the imported target rlhf4j::dnnl when both are present.
#
# Only under a libtorch before 2.1 (linear.cpp uses oneDNN 2.x's API, the
# oneDNN Debian's libtorch 1.13 links too): from 2.1 libtorch links oneDNN 3.x,
# whose C symbols bear the same names as 2.x's. With both in one process, the one loaded first
# serves every caller: libtorch's own bf16 matmuls then call oneDNN 2.x with 3.x
# arguments and crash (seen with Debian trixie's libtorch 2.6, AVX-512 CPU).
if(RLHF4J_CUDA)
  return()
endif()
if(Torch_VERSION VERSION_GREATER_EQUAL "2.1")
  message(STATUS "rlhf4j: no oneDNN of its own: libtorch ${Torch_VERSION} carries oneDNN 3.x; "
                 "CPU inference matmuls use ATen and the library's own kernels")
  return()
endif()
find_path(RLHF4J_DNNL_INCLUDE dnnl.hpp)
find_library(RLHF4J_DNNL_LIBRARY NAMES dnnl)
if(RLHF4J_DNNL_INCLUDE AND RLHF4J_DNNL_LIBRARY)
  add_library(rlhf4j::dnnl UNKNOWN IMPORTED)
  set_target_properties(rlhf4j::dnnl PROPERTIES
    IMPORTED_LOCATION "${RLHF4J_DNNL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${RLHF4J_DNNL_INCLUDE}")
  message(STATUS "rlhf4j: oneDNN (${RLHF4J_DNNL_LIBRARY}) serves CPU inference matmuls")
else()
  message(STATUS "rlhf4j: oneDNN not found; CPU inference matmuls use ATen (install libdnnl-dev)")
endif()
