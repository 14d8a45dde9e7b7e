// Constructors of the concrete architectures, behind make_model().
#pragma once

#include <memory>

#include "model.hpp"

namespace r4j {

std::unique_ptr<Model> make_gpt2(const r4j_model_config& config, at::Device device);
std::unique_ptr<Model> make_llama(const r4j_model_config& config, at::Device device);

}  // namespace r4j
