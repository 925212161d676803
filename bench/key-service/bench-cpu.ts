import { readdirSync, readFileSync } from 'node:fs';

// CPU seconds spent by the service, PostgreSQL and Kafka while the load ran, from /proc (Linux only). On a
// shared 2-core machine throughput depends on who else is busy; CPU per create does not, so it is the figure
// to compare before/after a change.

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on

const cpuTicks = (pid: number): number => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
};

const processes = (): { pid: number; comm: string; cmdline: string }[] => {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map((d) => {
        const pid = Number(d);
        try {
          return {
            pid,
            comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(),
            cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
          };
        } catch {
          return { pid, comm: '', cmdline: '' };
        }
      });
  } catch {
    return [];
  }
};

export interface CpuSample {
  bench: number; // this process: the load generator and the lag consumer
  service: number;
  postgres: number;
  kafka: number;
  machineBusy: number; // all CPUs, every process (ours and everyone else's)
  at: number;
}

const machineBusyTicks = (): number => {
  try {
    const [, ...t] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const n = t.map(Number);
    return n[0] + n[1] + n[2] + n[5] + n[6] + n[7]; // user nice system irq softirq steal
  } catch {
    return 0;
  }
};

// PostgreSQL: the backends serving the bench's database (their process title names it), so another test run's
// queries do not count; the pool stays connected through the run, so both samples see the same backends.
export const sampleCpu = (servicePid: number, database: string): CpuSample => {
  const all = processes();
  const sum = (pred: (p: { comm: string; cmdline: string }) => boolean) =>
    all.filter(pred).reduce((t, p) => t + cpuTicks(p.pid), 0);
  return {
    bench: cpuTicks(process.pid),
    service: cpuTicks(servicePid),
    postgres: sum((p) => p.comm === 'postgres' && p.cmdline.includes(` ${database} `)),
    kafka: sum((p) => p.comm === 'java' && p.cmdline.includes('kafka.Kafka')),
    machineBusy: machineBusyTicks(),
    at: Date.now(),
  };
};

export interface CpuUse {
  seconds: { bench: number; service: number; postgres: number; kafka: number; machine: number };
  msPerCreate: { service: number; postgres: number; kafka: number };
  // the share of the machine's CPUs that was busy, and the part of it that was neither this bench nor its stack
  machineBusyShare: number;
  othersShare: number;
}

export const cpuUse = (from: CpuSample, to: CpuSample, creates: number, cpus: number): CpuUse => {
  const s = (a: number, b: number) => Math.round(((b - a) / TICKS_PER_SECOND) * 100) / 100;
  const seconds = {
    bench: s(from.bench, to.bench),
    service: s(from.service, to.service),
    postgres: s(from.postgres, to.postgres),
    kafka: s(from.kafka, to.kafka),
    machine: s(from.machineBusy, to.machineBusy),
  };
  const per = (x: number) => (creates > 0 ? Math.round(((x * 1000) / creates) * 100) / 100 : NaN);
  const wall = (to.at - from.at) / 1000;
  const share = (x: number) => Math.round((x / (wall * cpus)) * 100) / 100;
  return {
    seconds,
    msPerCreate: {
      service: per(seconds.service),
      postgres: per(seconds.postgres),
      kafka: per(seconds.kafka),
    },
    machineBusyShare: share(seconds.machine),
    othersShare: share(
      Math.max(0, seconds.machine - seconds.bench - seconds.service - seconds.postgres - seconds.kafka),
    ),
  };
};
