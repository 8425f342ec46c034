#!/usr/bin/env node
// The `marmot` executable (package.json "bin"): runs cli/marmot.ts through tsx's loader, so `npx marmot`
// needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../marmot.ts');
