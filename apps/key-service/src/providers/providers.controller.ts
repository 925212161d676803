import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { type Caller, CurrentCaller } from '@keygate/platform';
import { PageQuery } from '../page.dto';
import { AddProviderDto, RotateProviderDto, UpdateProviderDto } from './provider.dto';
import { ProbeResultDto, ProviderPageDto, ProviderResourceDto } from './provider.resource';
import { ProvidersService } from './providers.service';

@ApiTags('providers')
@ApiBearerAuth()
@Controller('v1/providers')
export class ProvidersController {
  constructor(private readonly providers: ProvidersService) {}

  @ApiCreatedResponse({ type: ProviderResourceDto })
  @Post()
  add(@Body() dto: AddProviderDto, @CurrentCaller() caller: Caller) {
    return this.providers.add({ ...dto, settings: dto.settings && { ...dto.settings } }, caller);
  }

  @ApiOkResponse({ type: ProviderPageDto })
  @Get()
  list(@Query() q: PageQuery) {
    return this.providers.list(q.limit, q.cursor);
  }

  @ApiOkResponse({ type: ProviderResourceDto })
  @Patch(':id')
  update(@Param('id') id: string, @Body() dto: UpdateProviderDto, @CurrentCaller() caller: Caller) {
    return this.providers.update(id, { ...dto.settings }, caller);
  }

  @ApiCreatedResponse({ type: ProviderResourceDto })
  @Post(':id/rotate')
  @HttpCode(200)
  rotate(@Param('id') id: string, @Body() dto: RotateProviderDto, @CurrentCaller() caller: Caller) {
    return this.providers.rotate(id, dto.secret, dto.settings && { ...dto.settings }, caller);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<void> {
    await this.providers.remove(id, caller);
  }

  // A POST (the guard counts it as a write): it uses the secret and calls out, so auditors may not.
  @ApiOkResponse({ type: ProbeResultDto })
  @Post(':id/test')
  @HttpCode(200)
  test(@Param('id') id: string) {
    return this.providers.test(id);
  }
}
