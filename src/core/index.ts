export * from './errors.js';
export * from './units.js';
export * from './clock.js';
export * from './logger.js';
export * from './host-cpu.js';
