/**
 * Channel options: defaults and validation, once, at the boundary (precise messages, as p-queue).
 */
import { LivemigError, MiB } from '../core/index.js';
import type { ChannelOptions, ConnectOptions, MessageLength } from './types.js';

/** Default largest message, in bytes (16 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * MiB;
/** Default send high-water mark, in bytes (4 MiB). */
export const DEFAULT_SEND_HIGH_WATER_BYTES = 4 * MiB;
/** Default receive high-water mark, in bytes (4 MiB). */
export const DEFAULT_RECEIVE_HIGH_WATER_BYTES = 4 * MiB;
/** Default idle timeout, in ms. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Default pause between connection attempts, in ms. */
export const DEFAULT_CONNECT_RETRY_DELAY_MS = 100;

/** ChannelOptions with every default applied; messageLength stays optional (memory needs none). */
export interface ResolvedChannelOptions {
  messageLength: MessageLength | undefined;
  maxMessageBytes: number;
  sendHighWaterBytes: number;
  receiveHighWaterBytes: number;
  idleTimeoutMs: number;
}

export interface ResolvedConnectOptions extends ResolvedChannelOptions {
  connectTimeoutMs: number;
  connectRetryDelayMs: number;
}

function invalid(message: string): LivemigError {
  return new LivemigError('LIVEMIG_E_INVALID_OPTION', message, { phase: 'setup' });
}

function integer(value: number | undefined, name: string, fallback: number, min: number, unit: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`Expected ${name} to be an integer number of ${unit} >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Applies defaults and validates; `requireMessageLength` for stream transports (tcp). */
export function resolveChannelOptions(
  options: ChannelOptions = {},
  requireMessageLength = false,
): ResolvedChannelOptions {
  if (options === null || typeof options !== 'object') {
    throw invalid(`Expected channel options to be an object, got ${String(options)}`);
  }
  const { messageLength } = options;
  if (messageLength !== undefined && typeof messageLength !== 'function') {
    throw invalid(`Expected messageLength to be a function (buffered bytes) => length | null, got ${typeof messageLength}`);
  }
  if (requireMessageLength && messageLength === undefined) {
    throw invalid(
      'Expected messageLength (a function that finds the length of the first message in a byte buffer): '
      + 'a stream transport such as tcp needs it to split the byte stream into messages',
    );
  }
  return {
    messageLength,
    maxMessageBytes: integer(options.maxMessageBytes, 'maxMessageBytes', DEFAULT_MAX_MESSAGE_BYTES, 1, 'bytes'),
    sendHighWaterBytes: integer(options.sendHighWaterBytes, 'sendHighWaterBytes', DEFAULT_SEND_HIGH_WATER_BYTES, 1, 'bytes'),
    receiveHighWaterBytes: integer(
      options.receiveHighWaterBytes, 'receiveHighWaterBytes', DEFAULT_RECEIVE_HIGH_WATER_BYTES, 1, 'bytes',
    ),
    idleTimeoutMs: integer(options.idleTimeoutMs, 'idleTimeoutMs', DEFAULT_IDLE_TIMEOUT_MS, 0, 'milliseconds'),
  };
}

/** As resolveChannelOptions, plus the connect retry options. */
export function resolveConnectOptions(options: ConnectOptions = {}, requireMessageLength = false): ResolvedConnectOptions {
  return {
    ...resolveChannelOptions(options, requireMessageLength),
    connectTimeoutMs: integer(options.connectTimeoutMs, 'connectTimeoutMs', 0, 0, 'milliseconds'),
    connectRetryDelayMs: integer(
      options.connectRetryDelayMs, 'connectRetryDelayMs', DEFAULT_CONNECT_RETRY_DELAY_MS, 1, 'milliseconds',
    ),
  };
}
