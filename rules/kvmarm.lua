-- rules/kvmarm.lua: the kvmarm list (KVM on Arm64: lists.linux.dev since 2023,
-- lists.cs.columbia.edu before), reported in Chinese like the reference report.
-- Extends rules/default.lua (see it for every field and helper).  Not a place
-- for thread grouping or series logic: those live in the pipeline.

local base = inherit "default"

local SELFTEST_PATHS = { "tools/testing/selftests/" }

-- Selftests by title: "KVM: selftests: ...", "KVM: arm64: selftests: ...",
-- "selftests: kvm: ...", "KVM Selftest Runner", "kvm-unit-tests ...".
local function selftest_title(t)
  local title = (t.title or ""):lower()
  return title:find("^kvm:%s*selftests?[:%s]") ~= nil
    or title:find("^kvm:%s*[%w/_-]+:%s*selftests?[:%s]") ~= nil
    or title:find("^k?selftests?[:/%s]") ~= nil
    or title:find("^kvm%s+selftests?") ~= nil
    or title:find("^kvm%-unit%-tests") ~= nil
end

local function has_word(list, word)
  for _, w in ipairs(list or {}) do
    if w:lower() == word then return true end
  end
  return false
end

local function tag(t, name) return t.tags ~= nil and t.tags[name] == true end

return extend(base, {
  list = "kvmarm",
  source = "https://lore.kernel.org/kvmarm/",
  list_ids = { "kvmarm.lists.linux.dev", "kvmarm.lists.cs.columbia.edu" },
  description = "KVM on Arm64 (arch/arm64/kvm): hypervisor, VGIC, timers, PMU, nested virtualization, pKVM, Realms/CCA, kvmtool and kvm-unit-tests",
  language = "zh",

  -- Matching order: the specific kinds first, PATCH last but one.  A stable
  -- backport of a selftest fix is a backport; a selftest series posted as an
  -- RFC is still test code; only then does RFC claim design proposals.
  categories = {
    category(base, "GIT PULL"),
    category(base, "Stable"),
    { name = "Selftest", description = "KVM selftests and kvm-unit-tests: test code, and reports of failing tests",
      match = function(t)
        return has_word(t.prefixes, "kvm-unit-tests") or selftest_title(t)
          or all_paths(t, table.unpack(SELFTEST_PATHS))
      end },
    category(base, "RFC"),
    { name = "PATCH", description = "patches and series for KVM/arm64 and its neighbours (kvmtool, arm64, SMMU)",
      match = function(t) return t.series ~= nil or tag(t, "PATCH") end },
    category(base, "Discussion"),
  },
  -- The reference report's sections: PATCH, Selftest, GIT PULL, Discussion;
  -- RFC and Stable sit next to the kinds they are closest to.
  report_order = { "PATCH", "RFC", "Selftest", "Stable", "GIT PULL", "Discussion" },

  glossary = {
    ["KVM"] = "Kernel-based Virtual Machine",
    ["RME"] = "Realm Management Extension (Arm CCA hardware support)",
    ["RMM"] = "Realm Management Monitor (the firmware component that manages Realms at R-EL2)",
    ["CCA"] = "Confidential Compute Architecture (Arm)",
    ["Realm"] = "a confidential-computing VM under Arm CCA, isolated from the host",
    ["pKVM"] = "protected KVM: KVM on arm64 with the hypervisor at EL2 deprivileging the host, so guests are protected from it",
    ["nVHE"] = "non-VHE: KVM's mode where the hypervisor code runs at EL2 and the host kernel at EL1 (no VHE)",
    ["hVHE"] = "hVHE: pKVM's hypervisor running at EL2 with VHE (HCR_EL2.E2H=1) while the host stays at EL1",
    ["VHE"] = "Virtualization Host Extensions: the host kernel itself runs at EL2",
    ["NV"] = "Nested Virtualization (a guest hypervisor running its own guests)",
    ["VGIC"] = "KVM's virtual GIC (emulated interrupt controller for guests)",
    ["GIC"] = "Generic Interrupt Controller (Arm)",
    ["GICv3"] = "Generic Interrupt Controller architecture version 3",
    ["GICv4"] = "GIC version 4: adds direct injection of virtual LPIs (vLPIs) into guests",
    ["ITS"] = "Interrupt Translation Service (GICv3/v4 component that maps MSIs to LPIs)",
    ["LPI"] = "Locality-specific Peripheral Interrupt (message-based GIC interrupt)",
    ["LR"] = "List Register of the GIC virtual CPU interface (ICH_LR<n>_EL2), holding a pending virtual interrupt; not the link register",
    ["SMMU"] = "System MMU (Arm IOMMU)",
    ["IPA"] = "Intermediate Physical Address (guest physical address, input of stage 2)",
    ["S2"] = "stage 2 translation (IPA to physical address, controlled by the hypervisor)",
    ["S1"] = "stage 1 translation (virtual address to IPA, controlled by the guest)",
    ["SVE"] = "Scalable Vector Extension",
    ["SME"] = "Scalable Matrix Extension",
    ["PMU"] = "Performance Monitors Unit",
    ["PSCI"] = "Power State Coordination Interface (firmware interface for CPU on/off, suspend, reset)",
    ["SMCCC"] = "SMC Calling Convention (Arm's firmware/hypervisor call ABI)",
    ["FEAT_*"] = "an Arm architecture feature name from the Arm ARM, e.g. FEAT_NV2 (enhanced nested virtualization), FEAT_LS64 (64-byte loads/stores); keep the name as written",
    ["EL2"] = "Exception Level 2, the hypervisor privilege level (EL0 user, EL1 kernel, EL3 firmware)",
    ["HCR_EL2"] = "Hypervisor Configuration Register: controls which guest operations trap to EL2",
    ["VMID"] = "Virtual Machine Identifier, tags stage 2 TLB entries per VM",
    ["TLBI"] = "TLB Invalidate instruction",
    ["SError"] = "System Error: an asynchronous abort exception",
    ["SEA"] = "Synchronous External Abort",
    ["KVM_CAP"] = "KVM capability: a feature userspace checks or enables with KVM_CHECK_EXTENSION / KVM_ENABLE_CAP",
    ["kvmtool"] = "lkvm, a minimal userspace VMM for KVM (not QEMU)",
    ["kvm-unit-tests"] = "a separate repository of small guest-side tests for KVM",
    ["MTE"] = "Memory Tagging Extension",
    ["PAuth"] = "Pointer Authentication",
    ["BTI"] = "Branch Target Identification",
    ["GCS"] = "Guarded Control Stack (Arm shadow stack)",
    ["FF-A"] = "Firmware Framework for Arm A-profile (messaging between normal world, hypervisor and secure partitions)",
    ["vCPU"] = "virtual CPU of a guest",
    ["vPE"] = "virtual Processing Element: a vCPU as seen by the GICv4 ITS for direct vLPI injection",
    ["MMIO"] = "memory-mapped I/O",
    ["FGT"] = "Fine-Grained Traps (FEAT_FGT): per-register trap controls in HFGxTR_EL2 and friends",
    ["VNCR"] = "the VNCR_EL2 page (FEAT_NV2): memory that holds a guest hypervisor's EL2 registers",
    ["ID register"] = "ID_AA64*_EL1 etc.: registers describing CPU features, which KVM may show to guests with changes",
    ["ESR"] = "Exception Syndrome Register (ESR_ELx): describes why an exception was taken",
    ["HVC"] = "Hypervisor Call instruction",
    ["SMC"] = "Secure Monitor Call instruction",
  },

  prompts = {
    ["Selftest"] = [[
This thread is about KVM tests (KVM selftests or kvm-unit-tests): "{{title}}".
Say which test and architecture it concerns, what it adds or fixes (or what
failure is reported), the review feedback, and whether it was applied.]],
  },
})
