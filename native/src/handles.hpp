// Opaque handles: every live handle is registered with its kind, so a NULL,
// destroyed or foreign pointer is rejected with a message instead of being
// dereferenced, and a per-handle owner flag turns concurrent use from two
// threads into R4J_ERR_BUSY instead of a data race.
#pragma once

#include <atomic>
#include <cstdint>

#include "errors.hpp"

namespace r4j {

enum class Kind { Model, Rollout, Optimizer };

const char* kind_name(Kind kind);

struct Handle {
  explicit Handle(Kind k) : kind(k) {}
  virtual ~Handle() = default;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  const Kind kind;
  std::atomic<uint64_t> owner{0};  // id of the thread inside a call, 0 = free
  int depth = 0;                   // re-entrant holds by the owner
};

void register_handle(Handle* handle);
// Removes a live handle that no call is using from the registry; throws
// otherwise. The caller then deletes it.
void unregister_handle(const void* pointer, Kind kind, const char* what);
// Finds the live handle at pointer and marks it held by this thread, in one
// step under the registry lock; throws R4J_ERR_INVALID_HANDLE or R4J_ERR_BUSY.
Handle* acquire_handle(const void* pointer, Kind kind, const char* what);
void release_handle(Handle* handle);

// Holds a handle of type T (a subclass of Handle) for one ABI call.
template <typename T>
class Use {
 public:
  Use(const void* pointer, const char* what)
      : ptr_(static_cast<T*>(acquire_handle(pointer, T::handle_kind, what))) {}
  ~Use() { release_handle(ptr_); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  T* operator->() const { return ptr_; }
  T& operator*() const { return *ptr_; }

 private:
  T* ptr_;
};

}  // namespace r4j
