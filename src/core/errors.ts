/**
 * One error type for the whole of livemig. Every failure carries a stable `code` (for scripts and
 * tests) and the migration `phase` it happened in (for the operator). The table below is the
 * complete list of codes; a test walks it.
 */

/** Where in a migration (or in which layer) an error arose. */
export type Phase =
  | 'setup'
  | 'handshake'
  | 'precopy'
  | 'stop-copy'
  | 'verify'
  | 'resume'
  | 'transport'
  | 'wire'
  | 'codec'
  | 'cache'
  | 'guest'
  | 'qmp'
  | 'qemu-stream'
  | 'cli';

/** Every error code, its default phase and what it means. */
export const ERROR_CODES = {
  LIVEMIG_E_INVALID_OPTION: { phase: 'setup', summary: 'an option or argument has an invalid value' },
  LIVEMIG_E_NATIVE_UNAVAILABLE: { phase: 'setup', summary: 'the native codec addon could not be loaded' },
  LIVEMIG_E_CODEC_UNKNOWN: { phase: 'codec', summary: 'no codec with that name or id is registered' },
  LIVEMIG_E_CODEC_TRUNCATED: { phase: 'codec', summary: 'an encoded page ends before its grammar does' },
  LIVEMIG_E_CODEC_MALFORMED: { phase: 'codec', summary: 'an encoded page violates its codec grammar' },
  LIVEMIG_E_CODEC_OVERRUN: { phase: 'codec', summary: 'an encoded page would write past the end of the page' },
  LIVEMIG_E_CODEC_NEEDS_BASE: { phase: 'codec', summary: 'a delta codec was asked to encode without an old page' },
  LIVEMIG_E_CACHE_CONFIG: { phase: 'cache', summary: 'the page cache cannot be built with these settings' },
  LIVEMIG_E_WIRE_MALFORMED: { phase: 'wire', summary: 'a frame violates the wire format' },
  LIVEMIG_E_WIRE_CHECKSUM: { phase: 'wire', summary: 'a frame checksum does not match its contents' },
  LIVEMIG_E_WIRE_TOO_LARGE: { phase: 'wire', summary: 'a frame is larger than the negotiated maximum' },
  LIVEMIG_E_WIRE_UNKNOWN_TYPE: { phase: 'wire', summary: 'a frame has a type this version does not know' },
  LIVEMIG_E_WIRE_SEQUENCE: { phase: 'wire', summary: 'a frame arrived out of the expected sequence' },
  LIVEMIG_E_VERSION_MISMATCH: { phase: 'handshake', summary: 'the peers speak incompatible protocol versions' },
  LIVEMIG_E_HANDSHAKE: { phase: 'handshake', summary: 'the peers could not agree on capabilities' },
  LIVEMIG_E_AUTH: { phase: 'handshake', summary: 'the peer failed authentication' },
  LIVEMIG_E_TRANSPORT_CLOSED: { phase: 'transport', summary: 'the connection closed before the migration ended' },
  LIVEMIG_E_TRANSPORT_TIMEOUT: { phase: 'transport', summary: 'the peer stopped answering within the timeout' },
  LIVEMIG_E_TRANSPORT_CONNECT: { phase: 'transport', summary: 'a connection to the peer could not be opened' },
  LIVEMIG_E_GUEST_CONFIG: { phase: 'guest', summary: 'the guest cannot be built with these settings' },
  LIVEMIG_E_GUEST_SELF_CHECK: { phase: 'verify', summary: 'the guest workload self-check failed after migration' },
  LIVEMIG_E_DIGEST_MISMATCH: { phase: 'verify', summary: 'the destination memory digest differs from the source' },
  LIVEMIG_E_NOT_CONVERGED: { phase: 'precopy', summary: 'pre-copy did not converge within its limits' },
  LIVEMIG_E_ABORTED: { phase: 'precopy', summary: 'the peer aborted the migration' },
  LIVEMIG_E_PEER_CRASHED: { phase: 'transport', summary: 'the peer process exited during the migration' },
  LIVEMIG_E_INTERNAL: { phase: 'setup', summary: 'an invariant of livemig itself was broken (a bug)' },
  LIVEMIG_E_TRANSPORT_TOO_LARGE: { phase: 'transport', summary: 'a message is larger than the channel accepts' },
  LIVEMIG_E_TRANSPORT_MALFORMED: { phase: 'transport', summary: 'the byte stream could not be split into messages' },
  LIVEMIG_E_TRANSPORT_LISTEN: { phase: 'transport', summary: 'the local address could not be listened on' },
  LIVEMIG_E_GUEST_WORKER: { phase: 'guest', summary: 'the synthetic guest workload thread died or stopped answering' },
  LIVEMIG_E_TESTBED: { phase: 'setup', summary: 'the network testbed (namespaces, paths, shaping) could not be built or used' },
  LIVEMIG_E_NOT_ROOT: { phase: 'setup', summary: 'the operation needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)' },
  LIVEMIG_E_MPTCP_UNAVAILABLE: { phase: 'transport', summary: 'the kernel (or this process) cannot open MPTCP sockets' },
  LIVEMIG_E_MPTCP_FALLBACK: { phase: 'transport', summary: 'an MPTCP connection fell back to plain TCP while MPTCP was required' },
  LIVEMIG_E_LIMIT: { phase: 'handshake', summary: 'a receiver limit (concurrent sessions, guest memory) refused the session' },
  LIVEMIG_E_ENCODER_WORKER: { phase: 'precopy', summary: 'a page-encoding worker thread failed or exited during a round' },
  LIVEMIG_E_QEMU_STREAM_TRUNCATED: { phase: 'qemu-stream', summary: 'a QEMU migration stream ended before its end-of-stream marker' },
  LIVEMIG_E_QEMU_STREAM_MALFORMED: { phase: 'qemu-stream', summary: 'a QEMU migration stream (or an event rebuilding it) is not valid' },
  LIVEMIG_E_QEMU_UNAVAILABLE: { phase: 'setup', summary: 'QEMU (>= 9.0), the guest kernel or the guest build tools are missing and could not be installed' },
  LIVEMIG_E_QEMU_EXITED: { phase: 'guest', summary: 'a QEMU process exited or could not be started' },
  LIVEMIG_E_QMP_CONNECT: { phase: 'qmp', summary: 'the QMP socket could not be connected or negotiated' },
  LIVEMIG_E_QMP_PROTOCOL: { phase: 'qmp', summary: 'QEMU sent something that is not valid QMP' },
  LIVEMIG_E_QMP_COMMAND: { phase: 'qmp', summary: 'QEMU answered a QMP command with an error' },
  LIVEMIG_E_QMP_CLOSED: { phase: 'qmp', summary: 'the QMP connection closed while a command or event was awaited' },
  LIVEMIG_E_QMP_TIMEOUT: { phase: 'qmp', summary: 'a QMP command, event or migration state was not seen within its timeout' },
  LIVEMIG_E_QEMU_MIGRATION_FAILED: { phase: 'precopy', summary: 'QEMU reported the migration as failed or cancelled' },
} as const satisfies Record<string, { phase: Phase; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Stable numeric form of each code, carried in abort frames. Append only; never renumber. */
export const ERROR_CODE_NUMBERS: Readonly<Record<ErrorCode, number>> = Object.freeze(
  Object.fromEntries(Object.keys(ERROR_CODES).map((code, i) => [code, i + 1])) as Record<ErrorCode, number>,
);

/** The code with a given number, or undefined for a number this version does not know. */
export function errorCodeFromNumber(n: number): ErrorCode | undefined {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  return codes[n - 1];
}

export class LivemigError extends Error {
  readonly code: ErrorCode;
  readonly phase: Phase;

  constructor(code: ErrorCode, message: string, options: { phase?: Phase; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LivemigError';
    this.code = code;
    this.phase = options.phase ?? ERROR_CODES[code].phase;
  }
}

/** True when `err` is a LivemigError, optionally with the given code. */
export function isLivemigError(err: unknown, code?: ErrorCode): err is LivemigError {
  return err instanceof LivemigError && (code === undefined || err.code === code);
}
