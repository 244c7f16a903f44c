// InlineVec<T, N>: a vector that keeps up to N elements inline (no heap allocation) and moves to
// the heap beyond, with the part of std::vector's interface the autograd nodes use. Every
// recorded op makes a node holding a list of edges (one per input) and of output metadata (one per
// output); as std::vectors they were two of the node's four allocations. Not copyable or movable:
// a node never is, and the inline buffer's address is part of its state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <new>
#include <stdexcept>
#include <utility>

namespace ember {

template <class T, size_t N>
class InlineVec {
  static_assert(N > 0, "InlineVec needs an inline capacity");

 public:
  InlineVec() = default;
  InlineVec(const InlineVec&) = delete;
  InlineVec& operator=(const InlineVec&) = delete;
  ~InlineVec() {
    clear();
    if (ptr_ != inline_ptr()) ::operator delete(ptr_);
  }
  InlineVec& operator=(std::initializer_list<T> il) {
    clear();
    reserve(il.size());
    for (const T& v : il) push_back(v);
    return *this;
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }
  T& operator[](size_t i) { return ptr_[i]; }
  const T& operator[](size_t i) const { return ptr_[i]; }
  T& at(size_t i) { return i < size_ ? ptr_[i] : out_of_range(); }
  const T& at(size_t i) const { return i < size_ ? ptr_[i] : out_of_range(); }
  T& back() { return ptr_[size_ - 1]; }
  const T& back() const { return ptr_[size_ - 1]; }
  T* begin() { return ptr_; }
  T* end() { return ptr_ + size_; }
  const T* begin() const { return ptr_; }
  const T* end() const { return ptr_ + size_; }

  void reserve(size_t n) {
    if (n <= cap_) return;
    T* p = static_cast<T*>(::operator new(n * sizeof(T)));
    for (size_t i = 0; i < size_; ++i) {
      new (p + i) T(std::move(ptr_[i]));
      ptr_[i].~T();
    }
    if (ptr_ != inline_ptr()) ::operator delete(ptr_);
    ptr_ = p;
    cap_ = static_cast<uint32_t>(n);
  }
  template <class... A>
  T& emplace_back(A&&... a) {
    if (size_ == cap_) {
      T v(std::forward<A>(a)...);  // built first: the arguments may refer to an element
      reserve(2 * size_t(cap_));
      new (ptr_ + size_) T(std::move(v));
    } else {
      new (ptr_ + size_) T(std::forward<A>(a)...);
    }
    return ptr_[size_++];
  }
  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  void clear() {
    for (size_t i = 0; i < size_; ++i) ptr_[i].~T();
    size_ = 0;
  }

 private:
  T* inline_ptr() { return reinterpret_cast<T*>(buf_); }
  [[noreturn]] static T& out_of_range() { throw std::out_of_range("InlineVec::at"); }

  alignas(T) unsigned char buf_[N * sizeof(T)];
  T* ptr_ = inline_ptr();
  uint32_t size_ = 0, cap_ = N;
};

}  // namespace ember
