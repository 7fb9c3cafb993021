/**
 * `livemig experiment NAME|all`: the paper's evaluation. The scenarios live in experiments/,
 * outside the library, and are loaded only when asked for.
 */
export async function experimentCommand(argv: string[]): Promise<number> {
  const { experimentMain } = await import('../../../experiments/cli.js');
  return experimentMain(argv);
}
