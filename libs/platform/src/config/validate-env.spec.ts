import { IsInt, IsString, Matches, Max, Min } from 'class-validator';
import { loadEnv } from './validate-env';

class SampleEnv {
  @IsInt() @Min(1) @Max(65535) PORT: number = 3001;
  @Matches(/^[A-Za-z0-9+/]{43}=$/) MASTER_KEY: string = 'A'.repeat(43) + '=';
  @Matches(/^postgres:\/\/\S+$/) DATABASE_URL: string = 'postgres://localhost/db';
  @IsString() NAME: string = 'x';
}

describe('loadEnv', () => {
  it('converts declared types and keeps defaults', () => {
    expect(loadEnv(SampleEnv, { PORT: '18080' })).toMatchObject({ PORT: 18080, NAME: 'x' });
  });

  it('names every bad variable, without printing secrets or URL passwords', () => {
    let message = '';
    try {
      loadEnv(SampleEnv, {
        PORT: '70000',
        MASTER_KEY: 'super-secret-value',
        DATABASE_URL: 'mysql://u:hunter2@h/db',
      });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/PORT=70000: PORT must not be greater than 65535/);
    expect(message).toMatch(/MASTER_KEY=\(hidden\)/);
    expect(message).toMatch(/DATABASE_URL=.*u:\*\*\*@h/);
    expect(message).not.toContain('super-secret-value');
    expect(message).not.toContain('hunter2');
  });
});
