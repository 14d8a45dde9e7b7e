# The CUDA variant: one build per set of GPU architectures.
#   cmake -DRLHF4J_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="80;90" ...
# Without an explicit choice we build for Ampere (80) and Hopper (90).
if(NOT RLHF4J_CUDA)
  set(RLHF4J_CUDA_ARCHS "")
  return()
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES "80;90")
endif()
enable_language(CUDA)
set(RLHF4J_CUDA_ARCHS "${CMAKE_CUDA_ARCHITECTURES}")
message(STATUS "rlhf4j: CUDA variant for architectures ${RLHF4J_CUDA_ARCHS}")
