import type { Metadata } from '@grpc/grpc-js';
import { Controller, UseFilters, UseGuards } from '@nestjs/common';
import { AdminGrpcGuard, grpcCaller } from '@keygate/platform';
import { PageQuery } from '../page.dto';
import { AddProviderDto, RotateProviderDto, UpdateProviderDto } from '../providers/provider.dto';
import { ProvidersService } from '../providers/providers.service';
import { KeyServiceRpc } from './key-service-rpc';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { defined, requireId, validated } from './grpc-validation';
import { page, pageInput, probeMessage, providerMessage, type PageRequest } from './key-service.messages';

interface ProviderIdRequest {
  provider_id?: string;
}

const settingsInput = (m: Record<string, string> | undefined) => (m && Object.keys(m).length ? m : undefined);

// keygate.keys.v1.KeyService, provider credential RPCs over ProvidersService. The secret only travels inward.
@Controller()
@UseGuards(AdminGrpcGuard)
@UseFilters(GrpcExceptionFilter)
export class ProvidersGrpcController {
  constructor(private readonly providers: ProvidersService) {}

  @KeyServiceRpc('AddProvider', 'write')
  async addProvider(
    req: { name?: string; type?: string; secret?: string; settings: Record<string, string> },
    metadata: Metadata,
  ) {
    const dto = await validated(
      AddProviderDto,
      defined({ name: req.name, type: req.type, secret: req.secret, settings: settingsInput(req.settings) }),
    );
    return providerMessage(
      await this.providers.add(
        { ...dto, settings: dto.settings && { ...dto.settings } },
        grpcCaller(metadata),
      ),
    );
  }

  @KeyServiceRpc('ListProviders', 'read')
  async listProviders(req: PageRequest) {
    const q = await validated(PageQuery, pageInput(req));
    return page(await this.providers.list(q.limit, q.cursor), providerMessage);
  }

  @KeyServiceRpc('UpdateProvider', 'write')
  async updateProvider(req: ProviderIdRequest & { settings: Record<string, string> }, metadata: Metadata) {
    const id = requireId(req.provider_id, 'provider_id');
    const dto = await validated(UpdateProviderDto, { settings: req.settings ?? {} });
    return providerMessage(await this.providers.update(id, { ...dto.settings }, grpcCaller(metadata)));
  }

  @KeyServiceRpc('RotateProvider', 'write')
  async rotateProvider(
    req: ProviderIdRequest & { secret?: string; settings?: { entries: Record<string, string> } },
    metadata: Metadata,
  ) {
    const id = requireId(req.provider_id, 'provider_id');
    const dto = await validated(
      RotateProviderDto,
      defined({ secret: req.secret, settings: req.settings?.entries }),
    );
    return providerMessage(
      await this.providers.rotate(id, dto.secret, dto.settings && { ...dto.settings }, grpcCaller(metadata)),
    );
  }

  @KeyServiceRpc('RemoveProvider', 'write')
  async removeProvider(req: ProviderIdRequest, metadata: Metadata) {
    await this.providers.remove(requireId(req.provider_id, 'provider_id'), grpcCaller(metadata));
    return {};
  }

  // A write, as POST /v1/providers/:id/test is: it decrypts the secret and calls out.
  @KeyServiceRpc('TestProvider', 'write')
  async testProvider(req: ProviderIdRequest) {
    return probeMessage(await this.providers.test(requireId(req.provider_id, 'provider_id')));
  }
}
