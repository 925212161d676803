import type { Metadata } from '@grpc/grpc-js';
import { Controller, Inject, UseFilters, UseGuards } from '@nestjs/common';
import { ROUTES_CONFIG, type RoutesConfig } from '@keygate/platform';
import { AdminGrpcGuard, grpcCaller } from '@keygate/platform';
import { CreateGroupDto, UpdateGroupDto } from '../groups/groups.controller';
import { PageQuery } from '../page.dto';
import { GroupsService } from '../groups/groups.service';
import { routesView } from '../routes.controller';
import { KeyServiceRpc } from './key-service-rpc';
import { GrpcExceptionFilter } from './grpc-exception.filter';
import { defined, requireId, validated } from './grpc-validation';
import {
  budgetInput,
  groupMessage,
  page,
  pageInput,
  settable,
  type BudgetMessage,
  type PageRequest,
  type StringListMessage,
} from './key-service.messages';

interface GroupIdRequest {
  group_id?: string;
}

interface CreateGroupRequest {
  name?: string;
  description?: string;
  routes: string[];
  budget?: BudgetMessage;
}

interface UpdateGroupRequest extends GroupIdRequest {
  name?: string;
  description?: string;
  routes?: StringListMessage;
  budget?: BudgetMessage;
  clear_budget?: boolean;
}

// keygate.keys.v1.KeyService, group and route RPCs over GroupsService and routes.yaml.
@Controller()
@UseGuards(AdminGrpcGuard)
@UseFilters(GrpcExceptionFilter)
export class GroupsGrpcController {
  constructor(
    private readonly groups: GroupsService,
    @Inject(ROUTES_CONFIG) private readonly routes: RoutesConfig,
  ) {}

  @KeyServiceRpc('CreateGroup', 'write')
  async createGroup(req: CreateGroupRequest, metadata: Metadata) {
    const dto = await validated(
      CreateGroupDto,
      defined({
        name: req.name,
        description: req.description,
        routes: req.routes,
        budget: budgetInput(req.budget),
      }),
    );
    return groupMessage(await this.groups.create({ ...dto }, grpcCaller(metadata)));
  }

  @KeyServiceRpc('ListGroups', 'read')
  async listGroups(req: PageRequest) {
    const q = await validated(PageQuery, pageInput(req));
    return page(await this.groups.list(q.limit, q.cursor), groupMessage);
  }

  @KeyServiceRpc('GetGroup', 'read')
  async getGroup(req: GroupIdRequest) {
    return groupMessage(await this.groups.get(requireId(req.group_id, 'group_id')));
  }

  @KeyServiceRpc('UpdateGroup', 'write')
  async updateGroup(req: UpdateGroupRequest, metadata: Metadata) {
    const groupId = requireId(req.group_id, 'group_id');
    const dto = await validated(
      UpdateGroupDto,
      defined({
        name: req.name,
        description: req.description,
        routes: req.routes?.values,
        budget: settable(budgetInput(req.budget), req.clear_budget, 'budget'),
      }),
    );
    return groupMessage(await this.groups.update(groupId, { ...dto }, grpcCaller(metadata)));
  }

  @KeyServiceRpc('DeleteGroup', 'write')
  async deleteGroup(req: GroupIdRequest, metadata: Metadata) {
    await this.groups.remove(requireId(req.group_id, 'group_id'), grpcCaller(metadata));
    return {};
  }

  @KeyServiceRpc('ListRoutes', 'read')
  listRoutes() {
    return routesView(this.routes);
  }
}
