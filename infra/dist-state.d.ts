/** Why `root`'s dist/ is not current, or undefined when it is (infra/dist-state.js). */
export function whyStale(root: string): string | undefined;
