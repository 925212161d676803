import { Controller, Get, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ROUTES_CONFIG, type RoutesConfig } from '@keygate/platform';

// GET /v1/routes and the ListRoutes RPC: the routes of routes.yaml, without provider URLs or credentials.
export const routesView = (routes: RoutesConfig) => ({
  data: Object.values(routes.routes).map((r) => ({
    name: r.name,
    targets: r.targets.map((t) => ({
      provider: t.provider,
      ...(t.model ? { model: t.model } : { deployment: t.deployment }),
    })),
  })),
});

class RouteTargetDto {
  @ApiProperty() provider!: string;
  @ApiPropertyOptional() model?: string;
  @ApiPropertyOptional() deployment?: string;
}

class RouteDto {
  @ApiProperty({ example: 'gpt-4o-mini' }) name!: string;
  @ApiProperty({ type: [RouteTargetDto] }) targets!: RouteTargetDto[];
}

class RouteListDto {
  @ApiProperty({ type: [RouteDto] }) data!: RouteDto[];
}

@ApiTags('routes')
@ApiBearerAuth()
@Controller('v1/routes')
export class RoutesController {
  constructor(@Inject(ROUTES_CONFIG) private readonly routes: RoutesConfig) {}

  @ApiOkResponse({ type: RouteListDto })
  @Get()
  list() {
    return routesView(this.routes);
  }
}
