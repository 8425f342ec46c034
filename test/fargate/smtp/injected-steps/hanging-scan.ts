/** A scan step that never answers, as a stuck scanner would: configured by failure-injection tests. */
export const handler = (): Promise<never> => new Promise(() => {});
