// Scan verdicts, as GuardDuty writes them in its tag and events; the ClamAV scanner uses the same values.
export const CLEAN = 'NO_THREATS_FOUND'
export const INFECTED = 'THREATS_FOUND'
