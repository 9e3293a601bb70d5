#!/usr/bin/env node
// The `skiff` bin: registers tsx so that the TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
