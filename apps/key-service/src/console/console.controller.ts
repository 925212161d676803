import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags } from '@nestjs/swagger';
import { type Caller, CurrentCaller } from '@keygate/platform';
import { KeyServiceEnv } from '../key-service.env';

export class ConsoleConfigDto {
  @ApiProperty({
    example: 'http://127.0.0.1:8080/v1',
    description: "the gateway's public /v1 URL (.pak baseUrl)",
  })
  gatewayBaseUrl!: string;
  @ApiProperty({ example: 'http://127.0.0.1:3002' }) usageServiceUrl!: string;
  @ApiProperty({
    enum: ['admin', 'auditor'],
    description: 'the role of the token asking: auditors only read',
  })
  role!: 'admin' | 'auditor';
}

// What the console needs to know that only the deployment knows (where the gateway and usage-service are),
// and what the signed-in token may do.
@ApiTags('console')
@ApiBearerAuth()
@Controller('v1/console')
export class ConsoleController {
  constructor(private readonly env: KeyServiceEnv) {}

  @Get('config')
  @ApiOkResponse({ type: ConsoleConfigDto })
  config(@CurrentCaller() caller: Caller): ConsoleConfigDto {
    return {
      gatewayBaseUrl: this.env.PUBLIC_GATEWAY_URL,
      usageServiceUrl: this.env.PUBLIC_USAGE_SERVICE_URL,
      role: caller.actor.role,
    };
  }
}
