// SmallVec: a vector of int64_t that keeps up to N elements inline (no heap allocation). Shapes and
// strides are SmallVecs: every tensor carries two, views and temporaries make more, and with
// std::vector each was a malloc and a free (about a third of the allocations of a tiny training
// step). The interface is the subset of std::vector's that the code uses, and converts to and from
// std::vector<int64_t> implicitly, so either can be passed where the other is expected.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace ember {

template <size_t N>
class SmallVec {
 public:
  using value_type = int64_t;
  using size_type = size_t;
  using difference_type = std::ptrdiff_t;
  using reference = int64_t&;
  using const_reference = const int64_t&;
  using pointer = int64_t*;
  using const_pointer = const int64_t*;
  using iterator = int64_t*;
  using const_iterator = const int64_t*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  SmallVec() = default;
  explicit SmallVec(size_t n) { resize(n); }
  SmallVec(size_t n, int64_t v) { assign(n, v); }
  SmallVec(std::initializer_list<int64_t> il) { assign(il.begin(), il.end()); }
  template <class It, class = std::enable_if_t<!std::is_integral_v<It>>>
  SmallVec(It first, It last) { assign(first, last); }
  SmallVec(const std::vector<int64_t>& v) { assign(v.begin(), v.end()); }  // NOLINT: implicit
  SmallVec(const SmallVec& o) { assign(o.begin(), o.end()); }
  SmallVec(SmallVec&& o) noexcept { take(std::move(o)); }
  ~SmallVec() { release(); }

  SmallVec& operator=(const SmallVec& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  SmallVec& operator=(SmallVec&& o) noexcept {
    if (this != &o) {
      release();
      take(std::move(o));
    }
    return *this;
  }
  SmallVec& operator=(std::initializer_list<int64_t> il) {
    assign(il.begin(), il.end());
    return *this;
  }
  operator std::vector<int64_t>() const { return std::vector<int64_t>(begin(), end()); }  // NOLINT

  // --- access ---
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }
  int64_t* data() { return ptr_; }
  const int64_t* data() const { return ptr_; }
  int64_t& operator[](size_t i) { return ptr_[i]; }
  const int64_t& operator[](size_t i) const { return ptr_[i]; }
  int64_t& at(size_t i) { return i < size_ ? ptr_[i] : out_of_range(); }
  const int64_t& at(size_t i) const { return i < size_ ? ptr_[i] : out_of_range(); }
  int64_t& front() { return ptr_[0]; }
  const int64_t& front() const { return ptr_[0]; }
  int64_t& back() { return ptr_[size_ - 1]; }
  const int64_t& back() const { return ptr_[size_ - 1]; }
  iterator begin() { return ptr_; }
  iterator end() { return ptr_ + size_; }
  const_iterator begin() const { return ptr_; }
  const_iterator end() const { return ptr_ + size_; }
  const_iterator cbegin() const { return ptr_; }
  const_iterator cend() const { return ptr_ + size_; }
  reverse_iterator rbegin() { return reverse_iterator(end()); }
  reverse_iterator rend() { return reverse_iterator(begin()); }
  const_reverse_iterator rbegin() const { return const_reverse_iterator(end()); }
  const_reverse_iterator rend() const { return const_reverse_iterator(begin()); }

  // --- modifiers ---
  void reserve(size_t n) {
    if (n <= cap_) return;
    size_t c = std::max(n, cap_ * 2);
    auto* p = static_cast<int64_t*>(std::malloc(c * sizeof(int64_t)));
    if (!p) throw std::bad_alloc();
    if (size_) std::memcpy(p, ptr_, size_ * sizeof(int64_t));
    release();
    ptr_ = p;
    cap_ = c;
  }
  void clear() { size_ = 0; }
  void resize(size_t n) { resize(n, 0); }
  void resize(size_t n, int64_t v) {
    reserve(n);
    for (size_t i = size_; i < n; ++i) ptr_[i] = v;
    size_ = n;
  }
  void assign(size_t n, int64_t v) {
    size_ = 0;
    resize(n, v);
  }
  template <class It, class = std::enable_if_t<!std::is_integral_v<It>>>
  void assign(It first, It last) {
    // first..last may point into this vector (self-assignment through iterators): copy first.
    const size_t n = static_cast<size_t>(std::distance(first, last));
    if (n <= cap_) {
      int64_t tmp[N > 0 ? N : 1];
      int64_t* dst = ptr_;
      if (n <= N) {
        std::copy(first, last, tmp);
        std::copy(tmp, tmp + n, dst);
      } else {
        std::vector<int64_t> t(first, last);
        std::copy(t.begin(), t.end(), dst);
      }
      size_ = n;
      return;
    }
    std::vector<int64_t> t(first, last);
    size_ = 0;
    reserve(n);
    std::copy(t.begin(), t.end(), ptr_);
    size_ = n;
  }
  void push_back(int64_t v) {
    if (size_ == cap_) reserve(size_ + 1);
    ptr_[size_++] = v;
  }
  int64_t& emplace_back(int64_t v) {
    push_back(v);
    return back();
  }
  void pop_back() { --size_; }
  iterator insert(const_iterator pos, int64_t v) { return insert(pos, size_t(1), v); }
  iterator insert(const_iterator pos, size_t n, int64_t v) {
    const size_t i = static_cast<size_t>(pos - ptr_);
    reserve(size_ + n);
    std::memmove(ptr_ + i + n, ptr_ + i, (size_ - i) * sizeof(int64_t));
    for (size_t k = 0; k < n; ++k) ptr_[i + k] = v;
    size_ += n;
    return ptr_ + i;
  }
  template <class It, class = std::enable_if_t<!std::is_integral_v<It>>>
  iterator insert(const_iterator pos, It first, It last) {
    const size_t i = static_cast<size_t>(pos - ptr_);
    std::vector<int64_t> t(first, last);  // the range may alias this vector
    const size_t n = t.size();
    reserve(size_ + n);
    std::memmove(ptr_ + i + n, ptr_ + i, (size_ - i) * sizeof(int64_t));
    std::copy(t.begin(), t.end(), ptr_ + i);
    size_ += n;
    return ptr_ + i;
  }
  iterator insert(const_iterator pos, std::initializer_list<int64_t> il) { return insert(pos, il.begin(), il.end()); }
  iterator erase(const_iterator pos) { return erase(pos, pos + 1); }
  iterator erase(const_iterator first, const_iterator last) {
    const size_t i = static_cast<size_t>(first - ptr_), j = static_cast<size_t>(last - ptr_);
    std::memmove(ptr_ + i, ptr_ + j, (size_ - j) * sizeof(int64_t));
    size_ -= j - i;
    return ptr_ + i;
  }
  void swap(SmallVec& o) noexcept {
    SmallVec t(std::move(o));
    o = std::move(*this);
    *this = std::move(t);
  }

  friend bool operator==(const SmallVec& a, const SmallVec& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const SmallVec& a, const SmallVec& b) { return !(a == b); }
  friend bool operator<(const SmallVec& a, const SmallVec& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  bool is_inline() const { return ptr_ == inline_; }
  void release() {
    if (!is_inline()) std::free(ptr_);
    ptr_ = inline_;
    cap_ = N;
  }
  void take(SmallVec&& o) {
    if (o.is_inline()) {
      std::memcpy(inline_, o.inline_, o.size_ * sizeof(int64_t));
      ptr_ = inline_;
      cap_ = N;
    } else {
      ptr_ = o.ptr_;
      cap_ = o.cap_;
      o.ptr_ = o.inline_;
      o.cap_ = N;
    }
    size_ = o.size_;
    o.size_ = 0;
  }
  [[noreturn]] static int64_t& out_of_range();

  int64_t* ptr_ = inline_;
  size_t size_ = 0;
  size_t cap_ = N;
  int64_t inline_[N];
};

template <size_t N>
int64_t& SmallVec<N>::out_of_range() {
  throw std::out_of_range("SmallVec::at: index out of range");
}

}  // namespace ember
