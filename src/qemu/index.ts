/**
 * Real QEMU guests for livemig: QMP client, VM launcher, the test guests built from qemu-guests/
 * and their checkers. (The migration-stream proxy lives in ./stream/ and is exported separately.)
 */
export * from './qmp/index.js';
export { QemuVm, qemuArgs, type QemuGuestSpec, type QemuVmOptions } from './vm.js';
export { ensureQemu, qemuStateDir, MIN_QEMU_MAJOR, type QemuSetup } from './guests/setup.js';
export { bootableKernel, buildBootSectorGuest, buildLinuxGuest, type BootSectorGuest, type LinuxGuest } from './guests/build.js';
export { checkGuestRam, type GuestRamCheck } from './guests/check-guest-ram.js';
export { buildCpioNewc, type CpioEntry } from './guests/cpio-newc.js';
export { parseWorkloadLines, linuxGuestAppend, type WorkloadLine } from './guests/workload-log.js';
