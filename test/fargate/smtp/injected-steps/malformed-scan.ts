/** A scan step that answers with something that is not a verdict: configured by failure-injection tests. */
export const handler = async () => ({ verdict: 'maybe' });
