// Devices: every tensor knows its device. CPU always exists; CUDA is a device type whose backend
// is present only in builds with EMBER_CUDA=ON (otherwise using it raises, importing never does).
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "ember/error.h"

namespace ember {

enum class DeviceType : int8_t { CPU = 0, CUDA = 1 };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = -1;  // -1: "the current one"; CPU always reports -1

  Device() = default;
  Device(DeviceType t, int i = -1) : type(t), index(t == DeviceType::CPU ? -1 : i) {}
  explicit Device(const std::string& spec);  // "cpu", "cuda", "cuda:1"

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace ember
