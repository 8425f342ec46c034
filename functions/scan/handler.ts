/**
 * Lambda entry of the scan step (and the handler the in-process invoker calls locally): a thin middy
 * wrapper that validates the request and runs scan.ts. A malformed request throws, which the caller
 * sees as a failed step (451), never as a verdict.
 */
import middy from '@middy/core';
import { parseScanRequest, type ScanVerdict } from '../../shared/delivery/steps.ts';
import { scanMessage } from './scan.ts';

export const handler = middy<unknown, ScanVerdict>(async (event: unknown) => scanMessage(parseScanRequest(event)));
