// Two projects: unit (pure logic, no peers) and integration (real sshd, moto and versitygw
// started once by the global setup). TypeScript is compiled by swc to ESM; tsc type-checks separately.
const swc = ['@swc/jest', {jsc: {parser: {syntax: 'typescript'}, target: 'es2022'}, module: {type: 'es6'}}]

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {'^(\\.{1,2}/.*)\\.js$': '$1'},
  testEnvironment: 'node',
  transform: {'^.+\\.ts$': swc},
}

export default {
  verbose: true,
  // Integration tests drive real peers and CLI processes: one test may take tens of seconds.
  testTimeout: 180_000,
  projects: [
    {...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts']},
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/peers/global-setup.ts',
      globalTeardown: '<rootDir>/test/peers/global-teardown.ts',
      slowTestThreshold: 30,
    },
  ],
}
