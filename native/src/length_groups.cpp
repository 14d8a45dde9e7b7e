#include "length_groups.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>

#include "errors.hpp"

namespace r4j {
namespace {

std::atomic<int64_t> pass_positions_setting{kPassPositions};

LengthGroup one_group(const std::vector<int64_t>& prompt, const std::vector<int64_t>& response) {
  LengthGroup g;
  g.rows.resize(prompt.size());
  std::iota(g.rows.begin(), g.rows.end(), 0);
  for (size_t i = 0; i < prompt.size(); ++i) {
    g.prompt = std::max(g.prompt, prompt[i]);
    g.response = std::max(g.response, response[i]);
  }
  return g;
}

}  // namespace

void set_pass_positions(int64_t pass_positions) { pass_positions_setting = pass_positions; }

int64_t pass_positions_at(int64_t width) {
  const int64_t at_512 = pass_positions_setting;
  if (at_512 <= 0 || width <= 0) return at_512;
  const double scale = static_cast<double>(kPassPositionsWidth) / static_cast<double>(width);
  return std::max<int64_t>(1, std::llround(static_cast<double>(at_512) * scale * scale));
}

std::vector<LengthGroup> like_length_groups(const std::vector<int64_t>& prompt, const std::vector<int64_t>& response,
                                            int64_t pass_positions) {
  require(prompt.size() == response.size(), "like_length_groups: prompt and response lengths differ in count");
  const auto n = static_cast<int64_t>(prompt.size());
  for (int64_t i = 0; i < n; ++i)
    require(prompt[i] >= 1 && response[i] >= 1,
            "like_length_groups: row " + std::to_string(i) + " has no prompt or no response token");
  if (n <= 1 || pass_positions < 0) return {one_group(prompt, response)};
  // Longest first; ties in row order, so the cut is deterministic.
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return prompt[a] + response[a] > prompt[b] + response[b]; });
  // best[j]: the least cost of the first j sorted rows; from[j]: where its last group starts.
  std::vector<int64_t> best(n + 1, std::numeric_limits<int64_t>::max()), from(n + 1, 0);
  best[0] = 0;
  for (int64_t j = 1; j <= n; ++j) {
    int64_t p = 0, r = 0;
    for (int64_t i = j - 1; i >= 0; --i) {  // the last group: sorted rows [i, j)
      p = std::max(p, prompt[order[i]]);
      r = std::max(r, response[order[i]]);
      const int64_t cost = best[i] + (j - i) * (p + r) + pass_positions;
      if (cost < best[j]) {
        best[j] = cost;
        from[j] = i;
      }
    }
  }
  if (from[n] == 0) return {one_group(prompt, response)};
  std::vector<LengthGroup> groups;
  for (int64_t j = n; j > 0; j = from[j]) {
    LengthGroup g;
    for (int64_t i = from[j]; i < j; ++i) {
      g.rows.push_back(order[i]);
      g.prompt = std::max(g.prompt, prompt[order[i]]);
      g.response = std::max(g.response, response[order[i]]);
    }
    std::sort(g.rows.begin(), g.rows.end());
    groups.push_back(std::move(g));
  }
  std::reverse(groups.begin(), groups.end());  // longest first
  return groups;
}

}  // namespace r4j
