/** A scan step that always fails, as a crashed scanner would: configured by failure-injection tests. */
export const handler = async (): Promise<never> => {
  throw new Error('scanner unavailable');
};
