-- rules/linux-kselftest.lua: the linux-kselftest list (vger), in English, with
-- one category per subsystem whose tests (and the kernel changes they come
-- with) are posted here.  Extends rules/default.lua; it shows that a list is
-- adapted by writing Lua, not by recompiling.  Categories were chosen from the
-- real traffic of 2025-W26 and W34 (corpus/kernel-lists/linux-kselftest).

local base = inherit "default"

local function tag(t, name) return t.tags ~= nil and t.tags[name] == true end

local function low(t) return (t.title or ""):lower() end

-- The title starts with one of the Lua patterns (matched on the lower-cased title).
local function title_starts(t, ...)
  local title = low(t)
  for i = 1, select("#", ...) do
    if title:find("^" .. select(i, ...)) then return true end
  end
  return false
end

local function has_project(t, ...)
  for _, p in ipairs(t.prefixes or {}) do
    for i = 1, select("#", ...) do
      if p:lower() == select(i, ...) then return true end
    end
  end
  return false
end

local SELFTESTS = "tools/testing/selftests/"

return extend(base, {
  list = "linux-kselftest",
  source = "https://lore.kernel.org/linux-kselftest/",
  list_ids = { "linux-kselftest.vger.kernel.org" },
  description = "kernel selftests (tools/testing/selftests), KUnit and the kernel changes they test",
  language = "en",

  categories = {
    category(base, "GIT PULL"),
    { name = "KVM selftests", description = "tools/testing/selftests/kvm and kvm-unit-tests",
      match = function(t)
        return has_project(t, "kvm-unit-tests")
          or title_starts(t, "kvm:%s*selftests?", "kvm:%s*[%w/_-]+:%s*selftests?", "selftests?[:/]%s*kvm", "kvm%s+selftests?")
          or all_paths(t, SELFTESTS .. "kvm/")
      end },
    { name = "KVM", description = "KVM changes Cc'd here because they come with selftests",
      match = function(t)
        if title_starts(t, "kvm:", "kvm/") or has_path(t, "virt/kvm/", SELFTESTS .. "kvm/") then return true end
        for _, p in ipairs(t.paths or {}) do
          if p:find("^arch/[%w_]+/kvm/") then return true end
        end
        return false
      end },
    { name = "net selftests", description = "networking: net, net-next, nf-next patches and tools/testing/selftests/net",
      match = function(t)
        return has_project(t, "net", "net-next", "nf", "nf-next", "iproute2-next", "iproute2")
          or title_starts(t, "selftests?:%s*net", "selftests?:%s*drv%-net", "selftests?:%s*forwarding",
            "selftests?:%s*netfilter", "selftests?:%s*netdevsim", "selftests?:%s*seg6",
            "selftests?:%s*rtnetlink", "selftests?:%s*bonding", "selftests?:%s*tc", "selftests?:%s*pp%-bench",
            "selftests?/net", "netpoll:", "netlink:", "net:", "net/", "tcp:", "devlink:", "bonding:")
          or all_paths(t, SELFTESTS .. "net/", SELFTESTS .. "drivers/net/", "net/", "drivers/net/")
      end },
    { name = "bpf selftests", description = "BPF and its selftests",
      match = function(t)
        return has_project(t, "bpf", "bpf-next")
          or title_starts(t, "selftests?/bpf", "bpf:", "libbpf:", "bpftool:")
          or all_paths(t, SELFTESTS .. "bpf/", "kernel/bpf/", "tools/lib/bpf/")
      end },
    { name = "KUnit", description = "KUnit framework, tooling and tests",
      match = function(t)
        return title_starts(t, "kunit:") or title_has(t, "kunit")
          or has_path(t, "lib/kunit/", "tools/testing/kunit/")
      end },
    { name = "mm selftests", description = "memory management, DAMON, /proc/pid/maps and their selftests",
      match = function(t)
        return title_starts(t, "selftests?/mm", "selftests?:%s*mm", "mm/", "mm:", "mm,", "selftests?/damon",
          "damon", "ksm_tests", "userfaultfd")
          or all_paths(t, SELFTESTS .. "mm/", SELFTESTS .. "damon/", "mm/")
      end },
    { name = "iommu/vfio", description = "iommufd, IOMMU drivers, VFIO and their selftests",
      match = function(t)
        return title_starts(t, "iommu", "vfio", "selftests?/iommu", "selftests?/vfio", "selftests?:%s*vfio")
          or title_has(t, "iommufd", "vfio")
          or has_path(t, "drivers/iommu/", "drivers/vfio/", SELFTESTS .. "iommu/", SELFTESTS .. "vfio/")
      end },
    { name = "cgroup", description = "cgroup and its selftests",
      match = function(t)
        return title_starts(t, "cgroup", "selftests?/cgroup", "selftests?:%s*cgroup")
          or (title_has(t, "cgroup") and not has_project(t, "bpf", "bpf-next"))
          or has_path(t, "kernel/cgroup/", SELFTESTS .. "cgroup/")
      end },
    { name = "Rust", description = "Rust for Linux (lint and test changes Cc'd here)",
      match = function(t) return title_starts(t, "rust:") or all_paths(t, "rust/") end },
    { name = "nolibc", description = "tools/include/nolibc and its tests",
      match = function(t)
        return title_starts(t, "tools/nolibc", "selftests?/nolibc", "nolibc")
          or all_paths(t, "tools/include/nolibc/", SELFTESTS .. "nolibc/")
      end },
    { name = "Other selftests", description = "selftests of other subsystems, the kselftest framework and harness",
      match = function(t)
        return title_starts(t, "k?selftests?[:/%s]", "kselftest") or title_has(t, "selftest")
          or all_paths(t, SELFTESTS)
      end },
    { name = "Other patches", description = "other kernel patches Cc'd to the list",
      match = function(t) return t.series ~= nil or tag(t, "PATCH") or tag(t, "RFC") end },
    category(base, "Discussion"),
  },
  report_order = {
    "KVM selftests", "KVM", "net selftests", "bpf selftests", "mm selftests", "KUnit",
    "iommu/vfio", "cgroup", "Rust", "nolibc", "Other selftests", "Other patches",
    "GIT PULL", "Discussion",
  },

  glossary = {
    ["kselftest"] = "the kernel selftest framework (tools/testing/selftests, make kselftest)",
    ["KTAP"] = "Kernel Test Anything Protocol: the TAP-based result format of kselftest and KUnit",
    ["nolibc"] = "the minimal libc in tools/include/nolibc used to build tests without a C library",
    ["DAMON"] = "Data Access MONitor (mm/damon)",
    ["iommufd"] = "the IOMMU user-space API (/dev/iommu)",
    ["VFIO"] = "Virtual Function I/O: device passthrough to user space",
    ["BPF"] = "Berkeley Packet Filter: the kernel's in-kernel virtual machine (eBPF)",
    ["kfunc"] = "a kernel function callable from BPF programs",
    ["drv-net"] = "tools/testing/selftests/drivers/net: networking tests run against real drivers",
    ["netdevsim"] = "a simulated network device driver for tests",
    ["UML"] = "User Mode Linux (ARCH=um), where KUnit runs by default",
  },

  prompts = {
    system = base.prompts.system,
    default = [[
Summarise this thread titled "{{title}}" (category: {{category}}). Say what is
tested or changed and in which subsystem, the review feedback, whether tests
pass or fail where reported, and how it ended.]],
  },
})
