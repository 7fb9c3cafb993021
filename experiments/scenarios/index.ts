import type { Scenario } from '../types.js';
import { expAScenario } from './exp-a.js';
import { fig5Scenario } from './fig5-fig6.js';
import { fig7Scenario } from './fig7-fig8.js';
import { subflowsScenario } from './subflows.js';
import { congestionScenario } from './congestion.js';
import { modelScenario } from './model.js';
import { cacheScenario } from './cache.js';

export { expAScenario, fig5Scenario, fig7Scenario, subflowsScenario, congestionScenario, modelScenario, cacheScenario };

/** Every scenario with its default sizes, in the order `all` runs them (fast, loopback ones first). */
export function allScenarios(): Scenario[] {
  return [cacheScenario(), fig7Scenario(), modelScenario(), expAScenario(), fig5Scenario(), subflowsScenario(), congestionScenario()];
}

/** The scenario called `name` (or one of its aliases, e.g. fig6 → fig5), or undefined. */
export function findScenario(name: string): Scenario | undefined {
  return allScenarios().find((s) => s.name === name || s.aliases?.includes(name));
}
