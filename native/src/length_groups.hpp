// Passes of like length inside one micro-batch. A micro-batch run as one pass is
// padded to its longest prompt and longest response, so with GRPO's ragged
// responses a quarter of the learning passes' positions can be padding (issue 22:
// 27% on `scripts/bench --workload grpo`). Run as several passes, each over rows
// of like length cropped to its own longest, it computes the same loss over far
// fewer positions (HF Trainer's group_by_length, inside the micro-batch, so the
// micro-batches and their loss scaling stay what the caller chose).
#pragma once

#include <cstdint>
#include <vector>

namespace r4j {

// What one more pass costs, in positions, at model width 512: its operator
// launches and its smaller products. A micro-batch is cut only where the cut saves
// more padding than this (measured on config B, d 512).
constexpr int64_t kPassPositions = 256;
constexpr int64_t kPassPositionsWidth = 512;

struct LengthGroup {
  std::vector<int64_t> rows;         // indices into the inputs, ascending
  int64_t prompt = 0, response = 0;  // the rows' longest
  int64_t positions() const { return static_cast<int64_t>(rows.size()) * (prompt + response); }
};

// Rows with prompt[i] and response[i] tokens (each at least 1) cut into the groups
// that minimise the padded positions plus pass_positions per group, among the cuts
// of the rows sorted by length (dynamic programming over the n + 1 cut points,
// O(n^2)). A single group holds every row in order. pass_positions < 0: one group.
std::vector<LengthGroup> like_length_groups(const std::vector<int64_t>& prompt, const std::vector<int64_t>& response,
                                            int64_t pass_positions);
// A pass's cost at model width d: the process's setting (kPassPositions by
// default) at width 512, times (512 / d)^2, since a pass's launches take a fixed
// time while a position's products grow with d^2 (the demo's d 128 model: 4096).
// set_pass_positions(-1) is one padded pass, the slow twin the tests compare.
int64_t pass_positions_at(int64_t width);
void set_pass_positions(int64_t pass_positions);

}  // namespace r4j
