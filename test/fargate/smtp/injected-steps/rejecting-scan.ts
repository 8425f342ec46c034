/** A scan step that refuses everything, as a virus verdict would: configured by failure-injection tests. */
export const handler = async () => ({ verdict: 'reject', reason: 'test verdict: infected' });
