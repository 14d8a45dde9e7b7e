#include "handles.hpp"

#include <mutex>
#include <string>
#include <unordered_map>

namespace r4j {
namespace {

std::mutex registry_mutex;
std::unordered_map<const void*, Handle*>& registry() {
  static auto* live = new std::unordered_map<const void*, Handle*>();  // never destroyed: outlives statics
  return *live;
}

uint64_t this_thread_token() {
  static std::atomic<uint64_t> next{1};
  thread_local uint64_t token = next.fetch_add(1);
  return token;
}

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::Model: return "model";
    case Kind::Rollout: return "rollout";
    case Kind::Optimizer: return "optimizer";
  }
  return "handle";
}

void register_handle(Handle* handle) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry()[handle] = handle;
}

// Caller holds registry_mutex.
static Handle* find_locked(const void* pointer, Kind kind, const char* what) {
  if (pointer == nullptr) fail(R4J_ERR_INVALID_HANDLE, std::string(what) + " is NULL");
  auto it = registry().find(pointer);
  if (it == registry().end())
    fail(R4J_ERR_INVALID_HANDLE, std::string(what) + " is not a live " + kind_name(kind) +
                                     " handle (destroyed already, or never created)");
  if (it->second->kind != kind)
    fail(R4J_ERR_INVALID_HANDLE, std::string(what) + " is a " + kind_name(it->second->kind) +
                                     " handle, expected a " + kind_name(kind));
  return it->second;
}

Handle* acquire_handle(const void* pointer, Kind kind, const char* what) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  Handle* handle = find_locked(pointer, kind, what);
  const uint64_t me = this_thread_token();
  uint64_t expected = 0;
  if (handle->owner.compare_exchange_strong(expected, me)) {
    handle->depth = 1;
  } else if (expected == me) {
    ++handle->depth;  // the same handle passed twice to one call
  } else {
    fail(R4J_ERR_BUSY, std::string(what) + " is in use by a call on another thread");
  }
  return handle;
}

void release_handle(Handle* handle) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  if (--handle->depth == 0) handle->owner.store(0);
}

void unregister_handle(const void* pointer, Kind kind, const char* what) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  Handle* handle = find_locked(pointer, kind, what);
  if (handle->owner.load() != 0)
    fail(R4J_ERR_BUSY, std::string(what) + " is in use by a call on another thread");
  registry().erase(pointer);
}

}  // namespace r4j
