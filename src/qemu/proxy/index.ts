/** Driver B: livemig as a proxy between two live QEMU processes (agents, channel, orchestration, demo). */
export { parseQemuAddress, formatQemuAddress, listenQemuSocket, connectQemuSocket, type QemuSocketAddress } from './qemu-address.js';
export { listenProxyChannel, connectProxyChannel, type ProxyTransportSpec } from './proxy-channel.js';
export { QemuSourceAgent, type QemuSourceAgentOptions, type QemuSourceAgentResult } from './source-agent.js';
export { QemuDestinationAgent, type QemuDestinationAgentResult } from './destination-agent.js';
export {
  startQemuReceiver, runQemuSender, migrateQemuViaLivemig, type QemuProxyPipeline, type QemuReceiver, type QemuReceiverOptions,
  type QemuReceiverResult, type QemuSenderOptions, type QemuSenderResult, type QemuProxyMigrateOptions,
} from './orchestrator.js';
export { qemuFigures, type QemuFigures, type LivemigFigures, type QemuProxyReport, type SwitchoverTimeline } from './report.js';
export { BlendController, type BlendSummary, type BlendWindow } from './blend-controller.js';
export { SwitchoverBandwidth, SWITCHOVER_BANDWIDTH_MODES, type SwitchoverBandwidthMode } from './switchover-bandwidth.js';
export { runQemuDemo, type QemuDemoOptions, type QemuDemoReport, type QemuDemoCheck } from './demo.js';
