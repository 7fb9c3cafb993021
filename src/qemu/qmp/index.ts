/** QMP client and typed migration commands. */
export { QmpClient, QmpCommandError, type QmpConnectOptions, type QmpEvent, type QmpGreeting } from './client.js';
export {
  QemuMonitor,
  type MigrationCapability,
  type MigrationInfo,
  type MigrationParameters,
  type MigrationRamStats,
  type MigrationStatus,
  type VmStatus,
  type WaitForMigrationOptions,
  type XbzrleCacheStats,
} from './commands.js';
