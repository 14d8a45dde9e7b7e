# oneDNN for the CPU variant's inference matmuls (optional). Debian's
# dnnl-config.cmake demands OpenCL, so the header and library are found directly.
# Defines the imported target rlhf4j::dnnl when both are present.
if(RLHF4J_CUDA)
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
